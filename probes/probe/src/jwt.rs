//! RS256 JSON Web Tokens, the one place a probe signs with a private key: GitHub App JWTs,
//! Okta `private_key_jwt` client assertions, Google service-account JWT-bearer assertions.
//! The signed token is registered with the redactor before it is returned, so it cannot reach
//! a log or report even when an error message quotes a request.

use secrecy::{ExposeSecret, SecretString};

use crate::ProbeError;

/// Sign `claims` with the RSA private key `pem` (PKCS#1 or PKCS#8). `what` names the key's
/// config key in errors (`private_key_file`); the key itself never appears in one.
pub fn sign_rs256<C: serde::Serialize>(
    claims: &C,
    pem: &SecretString,
    key_id: Option<&str>,
    what: &str,
) -> Result<SecretString, ProbeError> {
    match key_id {
        Some(k) => sign_rs256_with(claims, pem, &[("kid", k)], what),
        None => sign_rs256_with(claims, pem, &[], what),
    }
}

/// As [`sign_rs256`], with header fields `kid`, `x5t` and `x5t#S256` (Microsoft's client
/// assertions name the certificate by its thumbprints).
pub fn sign_rs256_with<C: serde::Serialize>(
    claims: &C,
    pem: &SecretString,
    header_fields: &[(&str, &str)],
    what: &str,
) -> Result<SecretString, ProbeError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
        .map_err(|_| ProbeError::Config(format!("{what} is not an RSA private key in PEM form")))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    for (k, v) in header_fields {
        let v = Some(v.to_string());
        match *k {
            "kid" => header.kid = v,
            "x5t" => header.x5t = v,
            "x5t#S256" => header.x5t_s256 = v,
            other => unreachable!("unsupported JWT header field {other}"),
        }
    }
    let jwt = jsonwebtoken::encode(&header, claims, &key)
        .map_err(|_| ProbeError::Config(format!("could not sign with {what}")))?;
    crate::redact::register(&jwt);
    Ok(SecretString::from(jwt))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_that_is_not_rsa_is_named_not_quoted() {
        let pem = secrecy::SecretString::from(
            "-----BEGIN PRIVATE KEY-----\nnot-a-key-xyz\n-----END PRIVATE KEY-----\n".to_string(),
        );
        let e = super::sign_rs256(
            &serde_json::json!({"iss": "x"}),
            &pem,
            None,
            "private_key_file",
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("private_key_file") && !m.contains("not-a-key-xyz"),
            "{m}"
        );
    }
}
