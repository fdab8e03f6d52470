//! How decisions, traces, test results and checks are shown: plain text for
//! people, JSON (`--json`) for machines. Pure functions from results to text.

use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use crate::engine::testing::TestResult;
use crate::engine::{Decision, Decisions, Outcome, SkipReason, TraceStep};
use crate::order::Event;
use crate::rules::{RuleError, RuleSet};
use crate::value::Value;

/// `check`'s summary of a good rule set.
pub fn check_text(path: &str, rules: &RuleSet) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{path}: ok (rules version {})", rules.version);
    let with_rules = rules
        .channels
        .iter()
        .filter(|c| c.import.is_some() || !c.attributes.is_empty() || !c.overwrites.is_empty())
        .count();
    let _ = writeln!(
        out,
        "  {} channels, {} with rules, {} tests",
        rules.channels.len(),
        with_rules,
        rules.tests.len()
    );
    let width = rules
        .channels
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "  routes:");
    for c in &rules.channels {
        let to: Vec<&str> = c.routes.iter().map(|&r| &*rules.channels[r].name).collect();
        let to = if to.is_empty() {
            "(nowhere)".to_string()
        } else {
            to.join(", ")
        };
        let _ = writeln!(out, "    {:width$} -> {to}", c.name);
    }
    let connectors: Vec<_> = rules
        .channels
        .iter()
        .filter_map(|c| c.connector.as_ref().map(|k| (c, k)))
        .collect();
    if !connectors.is_empty() {
        let _ = writeln!(out, "  connectors:");
        for (c, k) in connectors {
            let _ = writeln!(out, "    {:width$}  {}", c.name, connector_line(k));
        }
    }
    for w in &rules.warnings {
        out.push_str(&crate::rules::error::render_warning(w));
    }
    out
}

/// `shopify (Admin API 2025-10, acme.myshopify.com)`.
pub fn connector_line(c: &crate::rules::Connector) -> String {
    match &c.kind {
        crate::rules::ConnectorKind::Shopify(s) => {
            format!("shopify (Admin API {}, {})", s.api_version, s.shop)
        }
        crate::rules::ConnectorKind::Ebay(e) => {
            format!("ebay (Sell Fulfillment API v1, {})", e.base_url)
        }
        crate::rules::ConnectorKind::Etsy(e) => {
            format!("etsy (Open API v3, shop {})", e.shop_id)
        }
        crate::rules::ConnectorKind::WooCommerce(w) => {
            format!("woocommerce (REST API wc/v3, {})", w.base_url)
        }
        crate::rules::ConnectorKind::Http(h) => {
            let events: Vec<&str> = h.carries.iter().map(|e| e.as_str()).collect();
            format!("http (request templates for {})", events.join(", "))
        }
    }
}

/// `check --json` for a good rule set.
pub fn check_json(rules: &RuleSet) -> Json {
    json!({
        "ok": true,
        "version": rules.version,
        "channels": rules.channels.iter().map(|c| json!({
            "name": c.name,
            "role": c.role.as_str(),
            "connector": c.connector.as_ref().map(|k| json!({
                "kind": k.kind_name(),
                "api_version": k.api_version(),
            })),
            "routes": c.routes.iter().map(|&r| rules.channels[r].name.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "tests": rules.tests.len(),
        "warnings": rules.warnings,
    })
}

/// `--json` for rejected rules.
pub fn errors_json(errors: &[RuleError]) -> Json {
    json!({ "ok": false, "errors": errors })
}

fn step_lines(out: &mut String, step: &TraceStep, indent: &str) {
    let place = if step.place.is_empty() {
        String::new()
    } else {
        format!("  ({})", step.place)
    };
    let _ = writeln!(out, "{indent}{}{place}", step.rule);
    match &step.error {
        Some(e) => {
            let _ = writeln!(out, "{indent}  {} -> error: {e}", step.expression);
        }
        None => {
            let _ = writeln!(out, "{indent}  {} -> {}", step.expression, step.result);
        }
    }
    for seen in &step.seen {
        let _ = writeln!(out, "{indent}  where {} = {}", seen.field, seen.value);
    }
}

/// A sentence saying why, from the decision's outcome and its last telling
/// step: "not published to amazon: `tags contains "Amazon"` was false; tags
/// were ["eBay"]". Stored with each decision for Order Health.
pub fn why(rules: &RuleSet, decisions: &Decisions, d: &Decision) -> String {
    let source = &*decisions.source;
    let step_said = |s: &TraceStep| {
        let seen: Vec<String> = s
            .seen
            .iter()
            .map(|x| format!("{} was {}", x.field, x.value))
            .collect();
        let seen = if seen.is_empty() {
            String::new()
        } else {
            format!("; {}", seen.join(", "))
        };
        format!("`{}` was {}{seen}", s.expression, s.result)
    };
    match &d.outcome {
        Outcome::Skip(SkipReason::NotAccepted(e)) => {
            let accepts: Vec<&str> = rules
                .channel(&d.destination)
                .and_then(|c| c.deliver.as_ref())
                .map(|dv| dv.accepts.iter().map(|e| e.as_str()).collect())
                .unwrap_or_default();
            format!(
                "{} accepts only {}, not {e}",
                d.destination,
                accepts.join(", ")
            )
        }
        Outcome::Skip(SkipReason::PublishFalse) => {
            match d.trace.iter().rev().find(|s| &*s.rule == "publish") {
                Some(s) => format!("not published to {}: {}", d.destination, step_said(s)),
                None => format!("not published to {}: `publish` is false", d.destination),
            }
        }
        Outcome::Skip(SkipReason::IgnoredByImport) => {
            match d.trace.iter().find(|s| &*s.rule == "import") {
                Some(s) => format!("ignored: {source}'s import filter {}", step_said(s)),
                None => "ignored by import".to_string(),
            }
        }
        Outcome::Skip(SkipReason::NoChange) => format!(
            "{} already has this order as it would be sent",
            d.destination
        ),
        Outcome::Draft(missing) => format!(
            "held for {}: required {} empty",
            d.destination,
            plural_fields(missing)
        ),
        Outcome::Error(m) => format!("error: {m}"),
        Outcome::Deliver => match d.trace.iter().rev().find(|s| &*s.rule == "publish") {
            Some(s) => format!("published to {}: {}", d.destination, step_said(s)),
            None => format!(
                "{} accepts {}, and no rule stops it",
                d.destination, decisions.event
            ),
        },
    }
}

fn plural_fields(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    if fields.len() == 1 {
        format!("field {} is", quoted[0])
    } else {
        format!("fields {} are", quoted.join(", "))
    }
}

/// `explain`: per destination, the decision, the changed fields and why.
pub fn explain_text(rules: &RuleSet, decisions: &Decisions, order_id: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} order {order_id} (rules version {})",
        decisions.source, decisions.event, decisions.rules_version
    );
    if decisions.decisions.is_empty() {
        let _ = writeln!(
            out,
            "\n{} routes to no channel: nothing to decide",
            decisions.source
        );
    }
    for d in &decisions.decisions {
        let _ = writeln!(out, "\n{}: {}", d.destination, d.outcome);
        let _ = writeln!(out, "  why: {}", why(rules, decisions, d));
        if !d.changes.is_empty() && matches!(d.outcome, Outcome::Deliver | Outcome::Draft(_)) {
            let _ = writeln!(out, "  changes:");
            for c in &d.changes {
                let _ = writeln!(out, "    {}: {} -> {}", c.field, c.before, c.after);
            }
        }
        if !d.trace.is_empty() {
            let _ = writeln!(out, "  trace:");
            for s in &d.trace {
                step_lines(&mut out, s, "    ");
            }
        }
        if matches!(d.outcome, Outcome::Deliver)
            && let Some(order) = &d.order
            && let Some(c) = rules
                .channel(&d.destination)
                .and_then(|c| c.connector.as_ref())
        {
            if let crate::rules::ConnectorKind::Http(_) = &c.kind {
                template_preview(&mut out, rules, decisions, &d.destination, c, order);
            } else {
                connector_preview(&mut out, c, decisions.event, order);
            }
        }
    }
    out
}

/// The request a `kind: http` destination would be sent, rendered now from
/// its templates; secrets stay `${NAME}` markers, secret headers are masked.
fn template_preview(
    out: &mut String,
    rules: &RuleSet,
    decisions: &Decisions,
    destination: &str,
    c: &crate::rules::Connector,
    order: &Value,
) {
    let Some(index) = rules.channel_index(destination) else {
        return;
    };
    let rendered = crate::engine::testing::render_for(
        rules,
        index,
        &decisions.source,
        decisions.event,
        order,
        chrono::Utc::now(),
    );
    let _ = writeln!(out, "  would send ({}):", connector_line(c));
    match rendered {
        None => {}
        Some(Err(why)) => {
            let _ = writeln!(out, "    nothing: rejected: {why}");
        }
        Some(Ok(r)) => {
            let _ = writeln!(out, "    {} {}", r.method, r.url);
            for (k, v) in &r.headers {
                let shown = if crate::delivery::connector::SECRET_HEADERS
                    .contains(&k.to_ascii_lowercase().as_str())
                {
                    "[masked]"
                } else {
                    v
                };
                let _ = writeln!(out, "       {k}: {shown}");
            }
            if let Some(body) = &r.body {
                let _ = writeln!(out, "       body:");
                for line in body.lines() {
                    let _ = writeln!(out, "         {line}");
                }
            }
        }
    }
}

/// The requests a connector would send for a decision (secrets masked).
fn connector_preview(out: &mut String, c: &crate::rules::Connector, event: Event, order: &Value) {
    use crate::delivery::connector::{ebay, etsy, shopify, woocommerce};
    let preview = match &c.kind {
        crate::rules::ConnectorKind::Shopify(s) => shopify::preview(
            s,
            &shopify::Outgoing {
                event,
                order,
                ordersync_id: "ord_<new>",
                external_id: None,
                previous: None,
                sent_before: false,
            },
        ),
        crate::rules::ConnectorKind::Ebay(e) => ebay::preview(
            e,
            &ebay::Outgoing {
                event,
                order,
                external_id: None,
            },
        ),
        crate::rules::ConnectorKind::Etsy(e) => etsy::preview(
            e,
            &etsy::Outgoing {
                event,
                order,
                external_id: None,
            },
        ),
        crate::rules::ConnectorKind::WooCommerce(w) => woocommerce::preview(
            w,
            &woocommerce::Outgoing {
                event,
                order,
                ordersync_id: "ord_<new>",
                external_id: None,
                sent_before: false,
                received_at: chrono::Utc::now(),
                notify_customer: w.notify_customer,
            },
        ),
        // A template destination prints its rendered request itself.
        crate::rules::ConnectorKind::Http(_) => return,
    };
    let _ = writeln!(out, "  would send ({}):", connector_line(c));
    match preview {
        Err(why) => {
            let _ = writeln!(out, "    nothing: rejected: {why}");
        }
        Ok(requests) => {
            for (i, r) in requests.iter().enumerate() {
                let _ = writeln!(out, "    {}. {} {} {}", i + 1, r.step, r.method, r.url);
                // As kept for Order Health: secret headers and form fields masked.
                let kept: Json = serde_json::from_str(&crate::delivery::connector::recorded(r))
                    .unwrap_or(Json::Null);
                for (k, v) in kept["headers"].as_object().into_iter().flatten() {
                    let _ = writeln!(out, "       {k}: {}", v.as_str().unwrap_or(""));
                }
                // GraphQL shows its variables; a REST platform its whole body.
                let body = &kept["body"];
                let (label, shown) = match body.get("variables") {
                    Some(vars) => ("variables", vars),
                    None => ("body", body),
                };
                if shown.is_null() {
                    continue;
                }
                let text = serde_json::to_string_pretty(shown).unwrap_or_default();
                let _ = writeln!(out, "       {label}:");
                for line in text.lines() {
                    let _ = writeln!(out, "         {line}");
                }
            }
        }
    }
}

/// One decision as JSON.
pub fn decision_json(d: &Decision) -> Json {
    let (reason, missing, error) = match &d.outcome {
        Outcome::Skip(r) => (Some(r.to_string()), None, None),
        Outcome::Draft(m) => (None, Some(m.clone()), None),
        Outcome::Error(e) => (None, None, Some(e.clone())),
        Outcome::Deliver => (None, None, None),
    };
    let mut v = json!({
        "destination": d.destination,
        "outcome": d.outcome.kind().as_str(),
        "changes": d.changes,
        "trace": d.trace,
    });
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    if let Some(m) = missing {
        v["missing"] = json!(m);
    }
    if let Some(e) = error {
        v["error"] = json!(e);
    }
    if let Some(o) = &d.order {
        v["order"] = serde_json::to_value(o).unwrap_or(Json::Null);
    }
    v
}

/// All decisions for an update as JSON.
pub fn decisions_json(decisions: &Decisions) -> Json {
    json!({
        "rules_version": decisions.rules_version,
        "source": decisions.source,
        "event": decisions.event,
        "ignored": decisions.ignored,
        "decisions": decisions.decisions.iter().map(decision_json).collect::<Vec<_>>(),
    })
}

/// `test`: a line per case; for a failure, expected against actual and the trace.
pub fn tests_text(results: &[TestResult]) -> String {
    let mut out = String::new();
    for r in results {
        if r.passed() {
            let _ = writeln!(out, "ok    {}", r.name);
            continue;
        }
        let _ = writeln!(out, "FAIL  {}  ({})", r.name, r.place);
        for m in &r.mismatches {
            let _ = writeln!(out, "  {}:", m.destination);
            let _ = writeln!(out, "    - expected: {}", m.expected);
            let _ = writeln!(out, "    + actual:   {}", m.actual);
            if !m.trace.is_empty() {
                let _ = writeln!(out, "    trace:");
                for s in &m.trace {
                    step_lines(&mut out, s, "      ");
                }
            }
        }
    }
    if results.is_empty() {
        let _ = writeln!(
            out,
            "no tests: add cases under `tests:`, or in a `.test.yaml` file beside the rules"
        );
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(out, "\n{} passed, {failed} failed", results.len() - failed);
    out
}

/// `test --json`.
pub fn tests_json(results: &[TestResult]) -> Json {
    let failed = results.iter().filter(|r| !r.passed()).count();
    json!({
        "passed": results.len() - failed,
        "failed": failed,
        "tests": results.iter().map(|r| json!({
            "name": r.name,
            "place": r.place,
            "passed": r.passed(),
            "mismatches": r.mismatches,
        })).collect::<Vec<_>>(),
    })
}
