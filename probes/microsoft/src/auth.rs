//! Access tokens by the client credentials grant at the tenant's token endpoint: with the
//! client secret, or with a client assertion signed by the certificate's private key (the
//! certificate named by its thumbprints, `x5t` and `x5t#S256`). One token per resource:
//! Graph (`https://graph.microsoft.com/.default`) and ARM
//! (`https://management.azure.com/.default`).

use residual_probe::http::{encode, Http};
use residual_probe::ProbeError;
use secrecy::{ExposeSecret, SecretString};

use crate::{ClientAuth, MicrosoftInstance};

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

#[derive(serde::Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

pub(crate) async fn token(
    inst: &MicrosoftInstance,
    http: &Http,
    scope: &str,
) -> Result<SecretString, ProbeError> {
    let url = inst.token_url();
    let mut body = format!(
        "grant_type=client_credentials&client_id={}&scope={}",
        encode(&inst.client_id),
        encode(scope)
    );
    match &inst.auth {
        ClientAuth::Secret(s) => {
            body.push_str("&client_secret=");
            body.push_str(&encode(s.expose_secret()));
        }
        ClientAuth::Certificate { key, x5t, x5t_s256 } => {
            let now = time::OffsetDateTime::now_utc();
            let claims = Claims {
                aud: &url,
                iss: &inst.client_id,
                sub: &inst.client_id,
                jti: format!("{}-{}", now.unix_timestamp_nanos(), std::process::id()),
                nbf: now.unix_timestamp(),
                iat: now.unix_timestamp(),
                exp: now.unix_timestamp() + 600,
            };
            let jwt = residual_probe::jwt::sign_rs256_with(
                &claims,
                key,
                &[("x5t", x5t.as_str()), ("x5t#S256", x5t_s256.as_str())],
                "certificate_file",
            )?;
            body.push_str(&format!(
                "&client_assertion_type={}&client_assertion={}",
                encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                encode(jwt.expose_secret())
            ));
        }
    }
    let body = SecretString::from(body);
    residual_probe::oauth::form_token(http, &url, "/{tenant}/oauth2/v2.0/token", &body)
        .await
        .map_err(|e| match e {
            ProbeError::Auth(m) => ProbeError::Auth(format!(
                "{m} (app {} in tenant {}, for {scope})",
                inst.client_id, inst.tenant
            )),
            e => e,
        })
}
