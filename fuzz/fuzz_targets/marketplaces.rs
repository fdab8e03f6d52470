//! The eBay and Etsy connectors' readers: any answer body, at any status, is
//! classified without a panic (API answers, eBay `errors[]`, Etsy `error`,
//! OAuth token answers); any JSON is read as an eBay order, an Etsy receipt,
//! a page of either, a token grant and a shipment plan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::delivery::connector::{credential, ebay, etsy, shipments};
use ordersync::ingress;
use ordersync::value::Value;

fuzz_target!(|data: &[u8]| {
    let statuses = [200u16, 201, 204, 400, 401, 403, 404, 408, 429, 500, 503];
    let (status, body) = match data.split_first() {
        Some((b, rest)) => (statuses[*b as usize % statuses.len()], rest),
        None => (200, data),
    };
    let _ = ebay::answer::classify(status, None, body);
    let _ = ebay::answer::errors(body);
    let _ = etsy::answer::classify(status, None, body);
    let _ = credential::classify_token(status, None, body);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = credential::grant(&doc, "eBay");
        let _ = ingress::ebay::page(&doc, 7);
        let _ = ingress::etsy::page(&doc, 7);
        let lines = ebay::platform_lines(&doc);
        if let Ok(v) = Value::from_json_slice(body) {
            if let Ok(list) = shipments::shipments(&v, "eBay") {
                for s in &list {
                    let _ = shipments::plan(&lines, s, "eBay");
                }
            }
        }
    }
    if let Ok(v) = Value::from_json_slice(body) {
        let _ = ingress::ebay::read(&v);
        let _ = ingress::etsy::read(&v);
    }
});
