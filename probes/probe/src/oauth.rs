//! Token endpoints: the OAuth 2.0 JWT-bearer grant (RFC 7523), as Google's speaks it — a
//! signed assertion in, an access token out — and any form POST (Microsoft's client
//! credentials grant). The access token is registered with the redactor.

use secrecy::{ExposeSecret, SecretString};

use crate::http::{encode, Http, Method, Request};
use crate::ProbeError;

#[derive(Debug, Default, serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Exchange `assertion` at `token_url` for an access token. A refusal (`unauthorized_client`,
/// `invalid_grant`, …) is an [`ProbeError::Auth`] naming the error and its description.
pub async fn jwt_bearer(
    http: &Http,
    token_url: &str,
    path: &str,
    assertion: &SecretString,
) -> Result<SecretString, ProbeError> {
    let body = SecretString::from(format!(
        "grant_type={}&assertion={}",
        encode("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        encode(assertion.expose_secret())
    ));
    form_token(http, token_url, path, &body).await
}

/// POST a form (`body`, which may hold a client secret: it is never logged) to a token
/// endpoint and take the access token from the answer. A refusal (`invalid_client`,
/// `unauthorized_client`, …) is a [`ProbeError::Auth`] naming the error and its description.
pub async fn form_token(
    http: &Http,
    token_url: &str,
    path: &str,
    body: &SecretString,
) -> Result<SecretString, ProbeError> {
    let mut req = Request::get(token_url.to_string(), path);
    req.method = Method::POST;
    req.headers
        .push(("content-type", "application/x-www-form-urlencoded".into()));
    req.headers.push(("accept", "application/json".into()));
    req.body = Some(body.expose_secret().as_bytes().to_vec());
    let r = http.send(&req).await?;
    let v: TokenResponse = serde_json::from_slice(&r.body).unwrap_or_default();
    if r.status != 200 {
        let e = v.error.unwrap_or_else(|| format!("HTTP {}", r.status));
        let d: String = v
            .error_description
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        return Err(ProbeError::Auth(format!(
            "{path}: {e}: {}",
            crate::redact::redact(&d)
        )));
    }
    let token = v
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ProbeError::Unexpected(format!("{path}: no access_token in the answer")))?;
    crate::redact::register(&token);
    Ok(SecretString::from(token))
}
