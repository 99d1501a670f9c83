//! The HTTP layer every REST probe (GitHub, Okta, Salesforce, Vault, SCIM) sends through: timeouts,
//! bounded retries with backoff, rate-limit waits, request counting and redaction, in one
//! place so each probe only decides what a status *means*.
//!
//! Retried here: transport errors, timeouts, 5xx, 429, GitHub's secondary-rate-limit and
//! Google's quota 403s (honouring `Retry-After`, else the reset header, else backing off),
//! and primary-rate-limit exhaustion (`x-ratelimit-remaining: 0`, or Okta's
//! `x-rate-limit-remaining: 0`, waiting until the reset when that is within
//! [`HttpPolicy::max_rate_wait`]). Everything
//! else comes back as a [`Reply`] for the probe to classify. No error message carries a header
//! value, a body or a query string: only method, path, status and our own words.

use std::sync::Mutex;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::{ProbeError, RequestCounter};

pub use reqwest::Method;

#[derive(Debug, Clone, Copy)]
pub struct HttpPolicy {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Attempts per request for transport errors and 5xx.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest the scan waits for a rate limit to reset before giving up (incomplete).
    pub max_rate_wait: Duration,
    /// Responses larger than this are refused (a runaway body must not exhaust memory).
    pub max_body_bytes: usize,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_rate_wait: Duration::from_secs(900),
            max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

impl HttpPolicy {
    /// Short timeouts and few, quick retries: what probe tests against a local mock use.
    pub fn for_tests() -> Self {
        HttpPolicy {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_millis(700),
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_rate_wait: Duration::from_secs(2),
            ..Default::default()
        }
    }
}

/// The latest rate-limit headers seen, for pacing and for the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateState {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub used: Option<u64>,
    /// Unix seconds.
    pub reset: Option<i64>,
}

pub struct Http {
    client: reqwest::Client,
    policy: HttpPolicy,
    counter: RequestCounter,
    rate: Mutex<RateState>,
}

/// One request. `path` is what errors show (no host, no query string).
pub struct Request<'a> {
    pub method: reqwest::Method,
    pub url: String,
    pub path: &'a str,
    pub bearer: Option<&'a SecretString>,
    /// Extra headers; values here must not be secrets (use `secret_header`).
    pub headers: Vec<(&'static str, String)>,
    /// One header whose value is a secret (e.g. `X-Vault-Token`).
    pub secret_header: Option<(&'static str, &'a SecretString)>,
    pub body: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    pub fn get(url: String, path: &'a str) -> Self {
        Request {
            method: reqwest::Method::GET,
            url,
            path,
            bearer: None,
            headers: Vec::new(),
            secret_header: None,
            body: None,
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, ProbeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ProbeError::Unexpected(format!("{what}: response is not the expected JSON ({e})"))
        })
    }
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn parse_u64(h: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Http {
    pub fn new(policy: HttpPolicy, counter: RequestCounter) -> Result<Http, ProbeError> {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .read_timeout(policy.read_timeout)
            .user_agent(concat!("residual/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProbeError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            client,
            policy,
            counter,
            rate: Mutex::new(RateState::default()),
        })
    }

    pub fn rate(&self) -> RateState {
        *self.rate.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requests(&self) -> u64 {
        self.counter.get()
    }

    /// GitHub spells the headers `x-ratelimit-*`, Okta `x-rate-limit-*`; both carry the
    /// limit, what remains of it and the reset in Unix seconds.
    fn note_rate(&self, h: &reqwest::header::HeaderMap) {
        let mut r = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        for p in ["x-ratelimit-", "x-rate-limit-"] {
            let get = |n: &str| parse_u64(h, &format!("{p}{n}"));
            if let Some(v) = get("remaining") {
                r.remaining = Some(v);
                r.limit = get("limit").or(r.limit);
                r.used = get("used").or(r.used);
                r.reset = get("reset").map(|v| v as i64).or(r.reset);
            }
        }
    }

    /// How long to wait before sending, if the budget is known to be spent.
    fn pace(&self) -> Option<Duration> {
        let r = self.rate();
        match (r.remaining, r.reset) {
            (Some(0), Some(reset)) if reset > now_unix() => {
                Some(Duration::from_secs((reset - now_unix()) as u64 + 1))
            }
            _ => None,
        }
    }

    async fn wait_for_rate(&self, what: &str, wait: Duration) -> Result<(), ProbeError> {
        if wait > self.policy.max_rate_wait {
            return Err(ProbeError::Throttled(format!(
                "{what}: rate limit resets in {} s, past the {} s the scan may wait",
                wait.as_secs(),
                self.policy.max_rate_wait.as_secs()
            )));
        }
        tracing::warn!("{what}: rate limited; waiting {} s", wait.as_secs());
        self.counter.waited();
        tokio::time::sleep(wait).await;
        // The reset has passed: the old budget no longer applies.
        self.rate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remaining = None;
        Ok(())
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .initial_backoff
            .saturating_mul(1u32 << attempt.min(10));
        exp.min(self.policy.max_backoff)
    }

    pub async fn send(&self, req: &Request<'_>) -> Result<Reply, ProbeError> {
        let what = format!("{} {}", req.method, req.path);
        let mut attempt = 0u32;
        let mut rate_waits = 0u32;
        loop {
            if let Some(wait) = self.pace() {
                rate_waits += 1;
                if rate_waits > 5 {
                    return Err(ProbeError::Throttled(format!(
                        "{what}: rate limit did not recover"
                    )));
                }
                self.wait_for_rate(&what, wait).await?;
            }
            let mut rb = self.client.request(req.method.clone(), &req.url);
            if let Some(t) = req.bearer {
                rb = rb.bearer_auth(t.expose_secret());
            }
            if let Some((name, value)) = req.secret_header {
                rb = rb.header(name, value.expose_secret());
            }
            for (k, v) in &req.headers {
                rb = rb.header(*k, v);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            self.counter.incr();
            attempt += 1;
            let retryable = |e: ProbeError| -> Result<(), ProbeError> {
                if attempt >= self.policy.max_attempts {
                    Err(e)
                } else {
                    Ok(())
                }
            };
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    let err = if e.is_timeout() {
                        ProbeError::Timeout(format!("{what}: no answer in time"))
                    } else {
                        ProbeError::Transport(format!(
                            "{what}: could not reach the server ({})",
                            transport_kind(&e)
                        ))
                    };
                    retryable(err)?;
                    self.counter.retried();
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            self.note_rate(&headers);
            let body = match read_capped(resp, self.policy.max_body_bytes).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => {
                    return Err(ProbeError::Unexpected(format!(
                        "{what}: response larger than {} bytes",
                        self.policy.max_body_bytes
                    )))
                }
                Err(BodyError::Read(timeout)) => {
                    let err = if timeout {
                        ProbeError::Timeout(format!("{what}: body not received in time"))
                    } else {
                        ProbeError::Transport(format!(
                            "{what}: connection broke while reading the body"
                        ))
                    };
                    retryable(err)?;
                    self.counter.retried();
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            };
            let reply = Reply {
                status,
                headers,
                body,
            };
            let retry_after = reply
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let primary_exhausted = reply.header("x-ratelimit-remaining") == Some("0")
                || reply.header("x-rate-limit-remaining") == Some("0");
            let text = || String::from_utf8_lossy(&reply.body).to_ascii_lowercase();
            // GitHub's secondary limit: wait at least a minute when it names no time.
            let secondary = status == 403 && {
                let t = text();
                t.contains("secondary rate limit") || t.contains("abuse")
            };
            // Google's per-user quota: 403 `rateLimitExceeded`/`userRateLimitExceeded`.
            let quota = status == 403 && {
                let t = text();
                t.contains("ratelimitexceeded") || t.contains("userratelimitexceeded")
            };
            if status == 429
                || secondary
                || quota
                || (status == 403 && (primary_exhausted || retry_after.is_some()))
            {
                rate_waits += 1;
                if rate_waits > 5 {
                    return Err(ProbeError::Throttled(format!(
                        "{what}: HTTP {status}, rate limit did not recover"
                    )));
                }
                let wait = match (retry_after, self.pace()) {
                    (Some(w), _) => w,
                    // Okta answers 429 with its reset time instead of `Retry-After`.
                    (None, Some(p)) => p,
                    (None, None) if secondary => Duration::from_secs(60),
                    // No hint at all (Google): back off exponentially, within the attempts.
                    (None, None) => {
                        if attempt >= self.policy.max_attempts {
                            return Err(ProbeError::Throttled(format!(
                                "{what}: HTTP {status} (quota) after {attempt} attempt(s)"
                            )));
                        }
                        self.backoff(attempt)
                    }
                };
                self.wait_for_rate(&what, wait).await?;
                continue;
            }
            if (500..600).contains(&status) {
                retryable(ProbeError::Server(format!(
                    "{what}: HTTP {status} after {attempt} attempt(s)"
                )))?;
                self.counter.retried();
                tokio::time::sleep(retry_after.unwrap_or_else(|| self.backoff(attempt))).await;
                continue;
            }
            return Ok(reply);
        }
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "connection refused or unreachable"
    } else if e.is_request() {
        "request failed"
    } else {
        "transport error"
    }
}

enum BodyError {
    TooLarge,
    Read(bool),
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<bytes::Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n as usize > cap) {
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if buf.len() + c.len() > cap {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&c);
            }
            Ok(None) => return Ok(buf.into()),
            Err(e) => return Err(BodyError::Read(e.is_timeout())),
        }
    }
}

/// A URL as a label for reports: host and path only — no scheme, no `user:pass@`, no query.
pub fn host_label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{path}")
    }
}

/// A URL fit for a report or a pasted command: scheme, host and path, no `user:pass@`, no
/// query or fragment, no trailing slash.
pub fn clean_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://{}", host_label(url)),
        None => host_label(url),
    }
}

/// Percent-encode a query-string component (RFC 3986 unreserved characters pass).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The shell every HTTP probe runs in: one request counter, one client, and the rule that a
/// probe which fails comes back as a failed snapshot — never as an empty one.
pub async fn collect_with<F, Fut>(
    system: &str,
    label: &str,
    policy: HttpPolicy,
    run: F,
) -> crate::SystemSnapshot
where
    F: FnOnce(Http) -> Fut,
    Fut: std::future::Future<Output = Result<crate::SystemSnapshot, ProbeError>>,
{
    let counter = RequestCounter::default();
    let mut snap = match Http::new(policy, counter.clone()) {
        Ok(http) => run(http)
            .await
            .unwrap_or_else(|e| crate::SystemSnapshot::failed(system, label, e)),
        Err(e) => crate::SystemSnapshot::failed(system, label, e),
    };
    snap.requests = counter.get();
    snap.retries = counter.retries();
    snap.rate_waits = counter.waits();
    snap
}

/// Follow RFC 8288 `Link` headers: the `rel="next"` target, exactly as the server gave it.
pub fn link_next(link: Option<&str>) -> Option<String> {
    link_rel(link, "next")
}

pub fn link_rel(link: Option<&str>, rel: &str) -> Option<String> {
    for part in link?.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_rel = pieces.any(|p| {
            let p = p.trim();
            p == format!("rel=\"{rel}\"") || p == format!("rel={rel}")
        });
        if is_rel && target.starts_with('<') && target.ends_with('>') {
            return Some(target[1..target.len() - 1].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_drop_credentials_and_queries() {
        assert_eq!(
            host_label("https://user:pw@vault.acme:8200/?x=1"),
            "vault.acme:8200"
        );
        assert_eq!(
            host_label("https://api.slack.com/scim/v2/"),
            "api.slack.com/scim/v2"
        );
        assert_eq!(host_label("http://127.0.0.1:9"), "127.0.0.1:9");
    }

    #[test]
    fn link_header_parsing() {
        let h = r#"<https://api.github.com/organizations/9/members?per_page=2&page=2>; rel="next", <https://api.github.com/organizations/9/members?per_page=2&page=5>; rel="last""#;
        assert_eq!(
            link_next(Some(h)).unwrap(),
            "https://api.github.com/organizations/9/members?per_page=2&page=2"
        );
        assert_eq!(
            link_rel(Some(h), "last").unwrap(),
            "https://api.github.com/organizations/9/members?per_page=2&page=5"
        );
        assert_eq!(link_next(Some(r#"<https://x/p?page=1>; rel="prev""#)), None);
        assert_eq!(link_next(None), None);
    }
}
