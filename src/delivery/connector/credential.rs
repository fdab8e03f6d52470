//! Credentials that refresh themselves (SPEC 12.2).
//!
//! A connector authenticates with a static token, a Basic key and secret, or
//! an OAuth 2 refresh token traded for short-lived access tokens (eBay, Etsy).
//! Access tokens are kept in memory per channel ([`Tokens`]) until 60 s before
//! they expire, so a request never leaves with a token about to lapse; an API
//! call answered 401 refreshes once and is sent once more ([`call`]).
//!
//! The refresh token itself lives in the rules file (the seed) and, once one
//! is stored, in the store's `credentials` table, which wins. Etsy hands out a
//! new refresh token on every refresh and voids the old one at once: the new
//! one is committed to the store *before* the access token that came with it
//! is used, so a crash anywhere leaves the newest refresh token on disk. Only
//! a crash while the refresh request itself is in flight can lose it (Etsy
//! has spent the old one, its answer never arrived): the next refresh is then
//! refused and the channel is marked `needs reconnect`, never guessed at.
//!
//! A refresh that is refused (`invalid_grant`, or the app's own credentials)
//! ends in [`Verdict::Reconnect`]: the dispatcher holds the channel's
//! deliveries until `ordersync connector set-token` gives a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value as Json;

use super::{Answer, Request, Sent, Session, Verdict};
use crate::rules::Secret;
use crate::store::Writer;

/// An access token is not used in its last minute.
pub const MARGIN: Duration = Duration::from_secs(60);

/// How a connector authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// A token that does not expire, sent as `Bearer`.
    Static(&'a Secret),
    /// A key and secret, sent as HTTP Basic.
    Basic {
        /// The key (user).
        key: &'a str,
        /// The secret (password).
        secret: &'a Secret,
    },
}

impl Credential<'_> {
    /// The `Authorization` header's value.
    pub fn authorization(&self) -> String {
        match self {
            Credential::Static(t) => format!("Bearer {}", t.0),
            Credential::Basic { key, secret } => basic(key, &secret.0),
        }
    }
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// An OAuth 2 refresh-token credential.
pub struct OAuth<'a> {
    /// The platform, as messages name it (`eBay`).
    pub platform: &'static str,
    /// The rules file's refresh token, used until one is stored.
    pub seed: &'a Secret,
    /// The platform answers every refresh with a new refresh token and voids
    /// the old one (Etsy): the new one is stored before anything else.
    pub rotates: bool,
    /// The token request for a refresh token.
    pub request: &'a (dyn Fn(&str) -> Request + Send + Sync),
    /// Hit right after a rotated refresh token is committed (crash tests).
    pub failpoint: &'static str,
}

/// Where credentials are kept: the access tokens in memory, the refresh
/// tokens in the store.
#[derive(Clone, Copy)]
pub struct Keeper<'a> {
    /// The access-token cache.
    pub tokens: &'a Tokens,
    /// The store.
    pub writer: &'a Writer,
}

struct Cached {
    access: String,
    /// Not used from this instant on (expiry less [`MARGIN`]).
    until: Instant,
}

/// Access tokens per channel, and one refresh at a time per channel (two
/// refreshes racing with one rotating refresh token would void each other).
#[derive(Default)]
pub struct Tokens {
    cached: Mutex<HashMap<Arc<str>, Cached>>,
    refreshing: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
}

impl Tokens {
    /// The channel's access token, unless it is within [`MARGIN`] of expiring.
    pub fn fresh(&self, channel: &str) -> Option<String> {
        let map = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        map.get(channel)
            .filter(|c| Instant::now() < c.until)
            .map(|c| c.access.clone())
    }

    /// Keeps an access token that expires in `expires_in`.
    pub fn put(&self, channel: &str, access: String, expires_in: Duration) {
        let until = Instant::now() + expires_in.saturating_sub(MARGIN);
        let mut map = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(Arc::from(channel), Cached { access, until });
    }

    /// Drops the channel's access token (a new refresh token was given).
    pub fn forget(&self, channel: &str) {
        let mut map = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(channel);
    }

    fn gate(&self, channel: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(Arc::from(channel)).or_default().clone()
    }
}

/// What a token endpoint granted.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// The access token.
    pub access_token: String,
    /// How long it lasts.
    pub expires_in: Duration,
    /// A new refresh token, when the platform sent one.
    pub refresh_token: Option<String>,
}

/// Reads a token endpoint's 2xx answer (RFC 6749 5.1).
pub fn grant(data: &Json, platform: &str) -> Result<Grant, String> {
    let access_token = data["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("{platform}'s token answer has no `access_token`"))?
        .to_string();
    let expires_in = data["expires_in"]
        .as_u64()
        .or_else(|| data["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| format!("{platform}'s token answer has no `expires_in`"))?;
    let refresh_token = data["refresh_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok(Grant {
        access_token,
        expires_in: Duration::from_secs(expires_in),
        refresh_token,
    })
}

/// Reads a token endpoint's answer: 2xx is the grant's JSON; an OAuth error
/// (`{"error": "invalid_grant", "error_description": ...}`, 400 or 401) is
/// rejected as `invalid_grant: <description>`; 429 and 5xx are passing.
pub fn classify_token(code: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    let json: Option<Json> = serde_json::from_slice(body).ok();
    match code {
        200..=299 => match json {
            Some(j) if j.is_object() => Answer::Data(j),
            _ => Answer::Retry(format!(
                "the token answer ({code}) is not a JSON object: {}",
                super::snippet(body)
            )),
        },
        429 => Answer::Throttled(retry_after.unwrap_or(Duration::from_secs(5))),
        400..=499 => {
            let j = json.unwrap_or(Json::Null);
            let error = j["error"].as_str().unwrap_or("refused");
            let description = j["error_description"]
                .as_str()
                .or_else(|| j["message"].as_str())
                .unwrap_or("");
            if description.is_empty() {
                Answer::Rejected(format!("{error} (HTTP {code})"))
            } else {
                Answer::Rejected(format!("{error}: {description}"))
            }
        }
        _ => Answer::Retry(format!(
            "the token endpoint answered {code}: {}",
            super::snippet(body)
        )),
    }
}

/// What to tell people when the platform refused a refresh.
pub fn refused(platform: &str, channel: &str, why: &str) -> String {
    if why.starts_with("invalid_grant") {
        let detail = why
            .trim_start_matches("invalid_grant")
            .trim_start_matches(':')
            .trim();
        format!(
            "the {platform} refresh token was refused (invalid_grant): {detail}; give a new one with `ordersync connector set-token {channel}`"
        )
    } else {
        format!(
            "{platform} refused the app's credentials ({why}); check the connector's keys in the rules, then give a refresh token with `ordersync connector set-token {channel}`"
        )
    }
}

fn retry(reason: String) -> Verdict {
    Verdict::Retry {
        reason,
        after: None,
    }
}

/// The channel's access token: the cached one, else a refresh. `refused` is
/// a token the platform just answered 401 to: it is not used again.
pub async fn access_token(
    s: &mut Session<'_>,
    o: &OAuth<'_>,
    k: Keeper<'_>,
    refused_token: Option<&str>,
) -> Result<String, Verdict> {
    let channel = s.channel().to_string();
    let usable = |t: &String| refused_token != Some(t.as_str());
    if let Some(t) = k.tokens.fresh(&channel).filter(usable) {
        return Ok(t);
    }
    let gate = k.tokens.gate(&channel);
    let _one_at_a_time = gate.lock().await;
    // Another delivery may have refreshed while this one waited.
    if let Some(t) = k.tokens.fresh(&channel).filter(usable) {
        return Ok(t);
    }
    let stored = k
        .writer
        .refresh_token(&channel)
        .await
        .map_err(|e| retry(format!("the stored refresh token could not be read: {e}")))?;
    let current = stored.unwrap_or_else(|| o.seed.0.clone());
    let request = (o.request)(&current);
    let data = match s.send(&request, classify_token).await {
        Sent::Data(d) => d,
        Sent::Stop(Verdict::Rejected(why)) => {
            return Err(Verdict::Reconnect(refused(o.platform, &channel, &why)));
        }
        Sent::Stop(v) => return Err(v),
        Sent::Unknown(reason) => {
            return Err(retry(format!(
                "refreshing the {} token: {reason}",
                o.platform
            )));
        }
    };
    let g = grant(&data, o.platform).map_err(retry)?;
    match (&g.refresh_token, o.rotates) {
        (Some(new), true) => {
            // The old one is void now: nothing may use the access token
            // before the new refresh token is on disk.
            k.writer
                .save_refresh_token(&channel, new)
                .await
                .map_err(|e| {
                    tracing::error!(channel = %channel, error = %e, "the new refresh token could not be stored");
                    retry(format!("{}'s new refresh token could not be stored: {e}", o.platform))
                })?;
            crate::failpoint::hit(o.failpoint);
        }
        (None, true) => {
            tracing::warn!(channel = %channel, platform = o.platform, "the refresh answer carried no new refresh token; the current one is kept");
        }
        (Some(new), false) if *new != current => {
            let _ = k.writer.save_refresh_token(&channel, new).await;
        }
        _ => {}
    }
    tracing::info!(
        channel = %channel,
        expires_in_s = g.expires_in.as_secs(),
        "access token refreshed"
    );
    k.tokens.put(&channel, g.access_token.clone(), g.expires_in);
    Ok(g.access_token)
}

/// One API call with an access token: a 401 refreshes once and sends once
/// more; anything but data stops the attempt.
pub async fn call(
    s: &mut Session<'_>,
    o: &OAuth<'_>,
    k: Keeper<'_>,
    build: impl Fn(&str) -> Request,
    classify: impl Fn(u16, Option<Duration>, &[u8]) -> Answer + Copy,
) -> Result<Json, Verdict> {
    let token = access_token(s, o, k, None).await?;
    let sent = match s.send(&build(&token), classify).await {
        Sent::Stop(_) if s.take_auth_refused() => {
            let token = access_token(s, o, k, Some(&token)).await?;
            s.send(&build(&token), classify).await
        }
        other => other,
    };
    match sent {
        Sent::Data(d) => Ok(d),
        Sent::Stop(v) => Err(v),
        Sent::Unknown(reason) => Err(retry(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_read() {
        let g = grant(
            &serde_json::json!({"access_token": "v^1.1#a", "expires_in": 7200, "token_type": "User Access Token"}),
            "eBay",
        )
        .unwrap();
        assert_eq!(g.expires_in, Duration::from_secs(7200));
        assert_eq!(g.refresh_token, None);
        assert!(grant(&serde_json::json!({"expires_in": 5}), "eBay").is_err());
        assert!(grant(&serde_json::json!({"access_token": "a"}), "eBay").is_err());
    }

    #[test]
    fn token_answers() {
        let a = classify_token(
            400,
            None,
            br#"{"error":"invalid_grant","error_description":"the provided authorization refresh token is invalid or was issued to another client"}"#,
        );
        let Answer::Rejected(why) = a else {
            panic!("{a:?}")
        };
        assert!(why.starts_with("invalid_grant: the provided"), "{why}");
        let msg = refused("eBay", "ebay", &why);
        assert_eq!(
            msg,
            "the eBay refresh token was refused (invalid_grant): the provided authorization refresh token is invalid or was issued to another client; give a new one with `ordersync connector set-token ebay`"
        );
        assert!(matches!(
            classify_token(503, None, b"down"),
            Answer::Retry(_)
        ));
        assert!(matches!(
            classify_token(200, None, b"<html>"),
            Answer::Retry(_)
        ));
        assert!(matches!(
            classify_token(429, None, b""),
            Answer::Throttled(_)
        ));
    }

    #[test]
    fn tokens_lapse_a_minute_early() {
        let t = Tokens::default();
        t.put("ebay", "a".into(), Duration::from_secs(7200));
        assert_eq!(t.fresh("ebay").as_deref(), Some("a"));
        t.put("etsy", "b".into(), Duration::from_secs(59));
        assert_eq!(t.fresh("etsy"), None);
        t.forget("ebay");
        assert_eq!(t.fresh("ebay"), None);
    }

    #[test]
    fn basic_is_base64() {
        assert_eq!(basic("id", "secret"), "Basic aWQ6c2VjcmV0");
    }
}
