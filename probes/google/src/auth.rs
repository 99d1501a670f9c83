//! Access tokens: a JWT signed with the service account's key, exchanged at the token
//! endpoint (the OAuth 2.0 JWT-bearer grant). With a subject, the token acts as that
//! Workspace admin (domain-wide delegation); without, as the service account itself (Cloud).

use residual_probe::http::Http;
use residual_probe::ProbeError;
use secrecy::SecretString;

use crate::GoogleInstance;

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: String,
    aud: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

pub(crate) async fn token(
    inst: &GoogleInstance,
    http: &Http,
    subject: Option<&str>,
    scopes: &[&str],
) -> Result<SecretString, ProbeError> {
    let aud = inst.token_uri();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        iss: &inst.account.email,
        scope: scopes.join(" "),
        aud: &aud,
        iat: now,
        exp: now + 3600,
        sub: subject,
    };
    let assertion = residual_probe::jwt::sign_rs256(
        &claims,
        &inst.account.key,
        inst.account.key_id.as_deref(),
        "credentials_file",
    )?;
    residual_probe::oauth::jwt_bearer(http, &aud, "/token", &assertion)
        .await
        .map_err(|e| match (e, subject) {
            (ProbeError::Auth(m), Some(s)) => ProbeError::Auth(format!(
                "{m} (acting as {s}: the service account {} needs domain-wide delegation for {})",
                inst.account.email,
                scopes.join(",")
            )),
            (e, _) => e,
        })
}
