//! The rules loader: any text is a rules file or a list of located errors,
//! never a panic or a hang (SPEC 10.7).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::rules::{LoadOptions, load_str, render_all};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_str("rules.yaml", text, &LoadOptions { env: &|_| None }) {
        Ok(rules) => {
            let _ = ordersync::engine::testing::run_tests(&rules);
        }
        Err(errors) => {
            let _ = render_all(&errors);
        }
    }
});
