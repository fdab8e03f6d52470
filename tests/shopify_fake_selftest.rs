//! The fake Shopify Admin GraphQL server checks what it should, keeps state and
//! can be scripted. (It is what the connector tests stand on, so it is tested too.)

#[path = "support/shopify_fake.rs"]
mod shopify_fake;

use serde_json::{Value, json};
use shopify_fake::{Behaviour, FakeShopify, UNAUTHORIZED_BODY};

const TOKEN: &str = "shpat_selftest";
const VERSION: &str = "2025-10";

const ORDER_CREATE: &str =
    "mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name tags totalPriceSet { shopMoney { amount currencyCode } } }
    userErrors { field message code }
  }
}";

const ORDERS: &str = "query Poll($first: Int!, $after: String, $q: String) {
  orders(first: $first, after: $after, query: $q, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id name updatedAt tags }
  }
}";

struct Reply {
    status: u16,
    body: Value,
    text: String,
    headers: reqwest::header::HeaderMap,
}

async fn send(url: &str, token: &str, query: &str, variables: Value) -> Reply {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-shopify-access-token", token)
        .body(body)
        .send()
        .await
        .expect("the fake answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        text,
        headers,
    }
}

async fn gql(fake: &FakeShopify, query: &str, variables: Value) -> Reply {
    send(&fake.endpoint(), TOKEN, query, variables).await
}

fn order_input() -> Value {
    json!({
        "lineItems": [{
            "sku": "DS-MUG-12",
            "title": "Hand-glazed mug",
            "quantity": 2,
            "priceSet": { "shopMoney": { "amount": "104.50", "currencyCode": "USD" } },
        }],
        "email": "camille@example.fr",
        "shippingAddress": {
            "firstName": "Camille", "lastName": "Martin", "address1": "12 Rue de la République",
            "city": "Lyon", "zip": "69002", "countryCode": "FR",
        },
        "tags": ["eBay", "ordersync:ord_1"],
        "note": "Leave at the door",
        "financialStatus": "PAID",
        "currency": "USD",
        "sourceName": "ordersync",
        "sourceIdentifier": "ord_1",
    })
}

#[tokio::test]
async fn a_valid_order_create_is_accepted_and_stored() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    let r = gql(
        &fake,
        ORDER_CREATE,
        json!({ "order": order_input(), "options": { "sendReceipt": false, "sendFulfillmentReceipt": false } }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let payload = &r.body["data"]["orderCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.text);
    let gid = payload["order"]["id"].as_str().unwrap().to_string();
    assert!(gid.starts_with("gid://shopify/Order/"), "{gid}");
    assert_eq!(
        payload["order"]["totalPriceSet"]["shopMoney"]["amount"],
        "209.00"
    );
    let cost = &r.body["extensions"]["cost"];
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 2000.0);
    assert_eq!(cost["throttleStatus"]["restoreRate"], 100.0);
    assert!(cost["requestedQueryCost"].is_number());
    assert_eq!(r.headers["x-shopify-api-version"], VERSION);

    let orders = fake.orders();
    assert_eq!(orders.len(), 1);
    let o = &orders[0];
    assert_eq!(o["id"], gid.as_str());
    assert_eq!(o["tags"], json!(["eBay", "ordersync:ord_1"]));
    assert_eq!(o["lineItems"]["nodes"][0]["sku"], "DS-MUG-12");
    assert_eq!(o["lineItems"]["nodes"][0]["quantity"], 2);
    assert_eq!(o["shippingAddress"]["countryCodeV2"], "FR");
    assert_eq!(o["sourceIdentifier"], "ord_1");
    // One fulfillment order, at one location, with the line's remaining quantity.
    let fos = &o["fulfillmentOrders"]["nodes"];
    assert_eq!(fos.as_array().unwrap().len(), 1);
    assert_eq!(fos[0]["status"], "OPEN");
    assert_eq!(fos[0]["lineItems"]["nodes"][0]["remainingQuantity"], 2);
    let rec = fake.requests_for("orderCreate");
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].header("X-Shopify-Access-Token"), TOKEN);
    assert_eq!(rec[0].variables["order"]["sourceIdentifier"], "ord_1");
}

#[tokio::test]
async fn inputs_are_checked_against_the_documented_types() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    let mut order = order_input();
    order["foo"] = json!(1);
    let r = gql(&fake, ORDER_CREATE, json!({ "order": order })).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("data").is_none(), "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["message"],
        "Variable $order of type OrderCreateOrderInput! was provided invalid value for foo (Field is not defined on OrderCreateOrderInput)"
    );
    assert_eq!(
        r.body["errors"][0]["extensions"]["problems"][0]["path"],
        json!(["foo"])
    );

    // Money as a JSON number, a missing quantity, a bad enum: each named.
    let mut order = order_input();
    order["lineItems"][0]["priceSet"]["shopMoney"]["amount"] = json!(104.5);
    order["lineItems"][0]
        .as_object_mut()
        .unwrap()
        .remove("quantity");
    order["financialStatus"] = json!("paid");
    let r = gql(&fake, ORDER_CREATE, json!({ "order": order })).await;
    let msg = r.body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(
            "lineItems.0.priceSet.shopMoney.amount (Could not coerce value 104.5 to Decimal)"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("lineItems.0.quantity (Expected value to not be null)"),
        "{msg}"
    );
    assert!(
        msg.contains("financialStatus (Expected \"paid\" to be one of:"),
        "{msg}"
    );

    // The variable's declared type must be the argument's documented type.
    let r = gql(
        &fake,
        "mutation ($o: OrderInput!) { orderCreate(order: $o) { order { id } } }",
        json!({ "o": { "id": "gid://shopify/Order/1" } }),
    )
    .await;
    assert_eq!(
        r.body["errors"][0]["message"],
        "Type mismatch on variable $o and argument order (OrderInput! / OrderCreateOrderInput!)"
    );
    // Input objects must come as variables.
    let r = gql(
        &fake,
        r#"mutation { orderCreate(order: {email: "a@b.c"}) { order { id } } }"#,
        json!({}),
    )
    .await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("must be passed as a variable"),
        "{}",
        r.text
    );
    // An id that is not a gid; an unknown root field.
    let r = gql(
        &fake,
        "query ($id: ID!) { order(id: $id) { id } }",
        json!({ "id": "123" }),
    )
    .await;
    assert!(r.text.contains("Invalid global id '123'"), "{}", r.text);
    let r = gql(
        &fake,
        "query { orderz(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r.body["errors"][0]["message"],
        "Field 'orderz' doesn't exist on type 'QueryRoot'"
    );
    assert!(fake.orders().is_empty());
}

#[tokio::test]
async fn a_wrong_token_path_or_version_is_refused() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    let r = send(
        &fake.endpoint(),
        "shpat_wrong",
        ORDER_CREATE,
        json!({ "order": order_input() }),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.text, UNAUTHORIZED_BODY);
    assert_eq!(
        r.body["errors"],
        "[API] Invalid API key or access token (unrecognized login or wrong password)"
    );
    let other_version = format!("{}/admin/api/2024-01/graphql.json", fake.base_url());
    assert_eq!(
        send(&other_version, TOKEN, ORDERS, json!({})).await.status,
        404
    );
    let other_path = format!("{}/admin/api/{VERSION}/orders.json", fake.base_url());
    assert_eq!(
        send(&other_path, TOKEN, ORDERS, json!({})).await.status,
        404
    );
    assert!(fake.orders().is_empty());
    // Every request is recorded, even refused ones.
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(fake.requests()[0].status, 401);
}

#[tokio::test]
async fn pagination_returns_every_order_once() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    fake.seed_order(
        json!({ "updatedAt": "2024-12-31T23:59:59Z", "createdAt": "2024-12-01T00:00:00Z" }),
    );
    let mut seeded = Vec::new();
    for i in 0..7 {
        let at = format!("2025-03-0{}T10:00:00Z", 7 - i);
        seeded.push(fake.seed_order(json!({
            "createdAt": at, "updatedAt": at,
            "tags": if i == 3 { json!(["ordersync:ord_1"]) } else { json!([]) },
            "lineItems": [{ "sku": "TEE-M", "title": "T-shirt", "quantity": 1,
                "originalUnitPriceSet": { "shopMoney": { "amount": "59.99", "currencyCode": "EUR" } } }],
        })));
    }
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let r = gql(
            &fake,
            ORDERS,
            json!({ "first": 3, "after": after, "q": "updated_at:>='2025-01-01T00:00:00Z'" }),
        )
        .await;
        let conn = &r.body["data"]["orders"];
        assert!(conn.is_object(), "{}", r.text);
        for n in conn["nodes"].as_array().unwrap() {
            seen.push(n["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    // Oldest update first, each once, the 2024 one filtered out.
    let mut expected = seeded.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let r = gql(
        &fake,
        ORDERS,
        json!({ "first": 10, "q": "tag:'ordersync:ord_1'" }),
    )
    .await;
    let nodes = r.body["data"]["orders"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 1, "{}", r.text);
    assert_eq!(nodes[0]["id"], seeded[3].as_str());
}

#[tokio::test]
async fn the_bucket_runs_dry_and_throttled_comes_back() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    fake.set_bucket(25.0, 1.0);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = gql(&fake, ORDER_CREATE, json!({ "order": order_input() })).await;
        statuses.push(r);
    }
    assert!(statuses[0].body["data"]["orderCreate"]["order"]["id"].is_string());
    assert!(statuses[1].body["data"]["orderCreate"]["order"]["id"].is_string());
    let t = &statuses[2];
    assert_eq!(t.status, 200);
    assert_eq!(t.body["errors"][0]["message"], "Throttled");
    assert_eq!(t.body["errors"][0]["extensions"]["code"], "THROTTLED");
    let cost = &t.body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 10.0);
    assert!(cost["actualQueryCost"].is_null());
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 25.0);
    assert_eq!(cost["throttleStatus"]["restoreRate"], 1.0);
    assert!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_f64()
            .unwrap()
            < 10.0
    );
    assert_eq!(fake.orders().len(), 2, "a throttled create creates nothing");
}

#[tokio::test]
async fn a_scripted_behaviour_is_consumed_once() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    fake.script(
        "orderCreate",
        Behaviour::UserErrors(vec![(
            "lineItems.0.sku".into(),
            "SKU DS-404 not found".into(),
        )]),
    );
    fake.script(
        "orderCreate",
        Behaviour::Throttled429 {
            retry_after: Some(2),
        },
    );
    let r = gql(&fake, ORDER_CREATE, json!({ "order": order_input() })).await;
    let p = &r.body["data"]["orderCreate"];
    assert!(p["order"].is_null());
    assert_eq!(p["userErrors"][0]["message"], "SKU DS-404 not found");
    assert_eq!(
        p["userErrors"][0]["field"],
        json!(["lineItems", "0", "sku"])
    );
    let r = gql(&fake, ORDER_CREATE, json!({ "order": order_input() })).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "2");
    assert_eq!(r.body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert!(fake.orders().is_empty());
    let r = gql(&fake, ORDER_CREATE, json!({ "order": order_input() })).await;
    assert_eq!(r.body["data"]["orderCreate"]["userErrors"], json!([]));
    assert_eq!(fake.orders().len(), 1);
    assert_eq!(fake.scripted("orderCreate"), 0);
    assert_eq!(fake.count("orderCreate"), 3);

    fake.script("order", Behaviour::NotJson);
    fake.script("order", Behaviour::NoDataNoErrors);
    fake.script("order", Behaviour::Status(503));
    let q = "query ($id: ID!) { order(id: $id) { id cancelledAt } }";
    let gid = fake.orders()[0]["id"].as_str().unwrap().to_string();
    let r = gql(&fake, q, json!({ "id": gid })).await;
    assert!(r.text.starts_with("<html>"));
    assert_eq!(gql(&fake, q, json!({ "id": gid })).await.text, "{}");
    assert_eq!(gql(&fake, q, json!({ "id": gid })).await.status, 503);
    let r = gql(&fake, q, json!({ "id": gid })).await;
    assert_eq!(r.body["data"]["order"]["id"], gid.as_str());
}

#[tokio::test]
async fn cancel_jobs_and_fulfillments_follow_the_docs() {
    let fake = FakeShopify::start(TOKEN, VERSION).await;
    let gid = fake.seed_order(json!({
        "lineItems": [
            { "sku": "A", "title": "A", "quantity": 2, "originalUnitPriceSet": { "shopMoney": { "amount": "1.00", "currencyCode": "USD" } } },
            { "sku": "B", "title": "B", "quantity": 1, "originalUnitPriceSet": { "shopMoney": { "amount": "2.00", "currencyCode": "USD" } } },
        ],
    }));
    let fo_q = "query ($id: ID!) { order(id: $id) { fulfillmentOrders(first: 10) { nodes { id status lineItems(first: 50) { nodes { id remainingQuantity lineItem { sku } } } } } } }";
    let r = gql(&fake, fo_q, json!({ "id": gid })).await;
    let fo = r.body["data"]["order"]["fulfillmentOrders"]["nodes"][0].clone();
    let line_a = fo["lineItems"]["nodes"][0]["id"].clone();
    let create = "mutation ($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id status } userErrors { field message } } }";
    let input = json!({ "f": {
        "lineItemsByFulfillmentOrder": [{ "fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [{ "id": line_a, "quantity": 2 }] }],
        "trackingInfo": { "company": "UPS", "number": "1Z2345", "url": "https://ups.example/1Z2345" },
        "notifyCustomer": false,
    }});
    fake.set_fulfillment_order_status(&gid, 0, "ON_HOLD");
    let r = gql(&fake, create, input.clone()).await;
    assert!(
        r.body["data"]["fulfillmentCreate"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("on_hold"),
        "{}",
        r.text
    );
    fake.set_fulfillment_order_status(&gid, 0, "OPEN");
    let r = gql(&fake, create, input).await;
    assert_eq!(
        r.body["data"]["fulfillmentCreate"]["userErrors"],
        json!([]),
        "{}",
        r.text
    );
    let f = &fake.fulfillments()[0];
    assert_eq!(f["trackingInfo"][0]["number"], "1Z2345");
    assert_eq!(
        f["fulfillmentLineItems"]["nodes"][0]["lineItem"]["sku"],
        "A"
    );
    let order = fake.order(&gid).unwrap();
    assert_eq!(order["displayFulfillmentStatus"], "PARTIALLY_FULFILLED");
    assert_eq!(
        order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][0]["remainingQuantity"],
        0
    );

    let cancel = "mutation ($id: ID!, $restock: Boolean!, $reason: OrderCancelReason!, $rm: OrderCancelRefundMethodInput) { orderCancel(orderId: $id, restock: $restock, reason: $reason, refundMethod: $rm, notifyCustomer: false) { job { id done } orderCancelUserErrors { field message code } } }";
    let job_q = "query ($id: ID!) { job(id: $id) { id done } }";
    let r = gql(
        &fake,
        cancel,
        json!({ "id": gid, "restock": true, "reason": "CUSTOMER", "rm": { "originalPaymentMethodsRefund": true } }),
    )
    .await;
    let job = &r.body["data"]["orderCancel"]["job"];
    assert_eq!(job["done"], false, "{}", r.text);
    let job_id = job["id"].clone();
    assert_eq!(
        gql(&fake, job_q, json!({ "id": job_id })).await.body["data"]["job"]["done"],
        false
    );
    assert!(fake.order(&gid).unwrap()["cancelledAt"].is_null());
    assert_eq!(
        gql(&fake, job_q, json!({ "id": job_id })).await.body["data"]["job"]["done"],
        true
    );
    assert!(fake.order(&gid).unwrap()["cancelledAt"].is_string());
    assert_eq!(fake.cancellations()[0]["restock"], true);

    // A cancel job that finishes without cancelling.
    let other = fake.seed_order(json!({}));
    fake.script("orderCancel", Behaviour::CancelWithoutCancelling);
    fake.set_job_polls(0);
    let r = gql(
        &fake,
        cancel,
        json!({ "id": other, "restock": false, "reason": "OTHER" }),
    )
    .await;
    let job_id = r.body["data"]["orderCancel"]["job"]["id"].clone();
    assert_eq!(
        gql(&fake, job_q, json!({ "id": job_id })).await.body["data"]["job"]["done"],
        true
    );
    assert!(fake.order(&other).unwrap()["cancelledAt"].is_null());
}
