//! Authentication: a token (checked to see what an owner sees: `read:org`, an active
//! membership), or a GitHub App (an RS256 JWT, then an installation token).

use residual_probe::http::Request;
use residual_probe::ProbeError;
use secrecy::{ExposeSecret, SecretString};

use crate::{api, classify, now, Collector, GithubAuth};

impl Collector<'_> {
    pub(crate) async fn authenticate(&mut self) -> Result<String, ProbeError> {
        match &self.inst.auth {
            GithubAuth::Token(t) => {
                self.token = t.clone();
                let r = self.get_ok(self.url("/user"), "/user").await?;
                let u: api::SimpleUser = r.json("/user")?;
                // A classic token without read:org sees public members only, and a membership
                // lookup answers 404 for a concealed member: that would read as "not a member".
                if let Some(scopes) = r.header("x-oauth-scopes") {
                    let ok = scopes
                        .split(',')
                        .map(str::trim)
                        .any(|s| matches!(s, "read:org" | "write:org" | "admin:org"));
                    if !ok {
                        return Err(ProbeError::Permission(format!("the token's scopes ({scopes}) lack read:org: concealed members would be invisible")));
                    }
                }
                // The token's own user must be an active member, or private memberships are
                // hidden from it.
                let path = format!("/orgs/{}/memberships/{{username}}", self.inst.org);
                let r = self
                    .get(
                        self.url(&format!("/orgs/{}/memberships/{}", self.inst.org, u.login)),
                        &path,
                    )
                    .await?;
                let m: api::Membership = match r.status {
                    200 => r.json(&path)?,
                    _ => return Err(ProbeError::Permission(format!("the token's user {} is not a member of {}: concealed members would be invisible (HTTP {})", u.login, self.inst.org, r.status))),
                };
                if m.state != "active" {
                    return Err(ProbeError::Permission(format!(
                        "the token's user {} has a {} membership of {}",
                        u.login, m.state, self.inst.org
                    )));
                }
                self.sees_all = m.role == "admin";
                Ok(format!(
                    "user {} ({}), org {}",
                    u.login,
                    u.id,
                    if m.role == "admin" { "owner" } else { "member" }
                ))
            }
            GithubAuth::App {
                app_id,
                private_key_pem,
                installation_id,
            } => {
                let jwt = app_jwt(*app_id, private_key_pem)?;
                residual_probe::redact::register(jwt.expose_secret());
                let mut req = Request::get(self.url("/app"), "/app");
                req.bearer = Some(&jwt);
                req.headers
                    .push(("accept", "application/vnd.github+json".into()));
                let r = self.http.send(&req).await?;
                if r.status != 200 {
                    return Err(classify("/app", &r));
                }
                let app: api::App = r.json("/app")?;
                let path = format!("/app/installations/{installation_id}/access_tokens");
                let mut req = Request::get(self.url(&path), &path);
                req.method = residual_probe::http::Method::POST;
                req.bearer = Some(&jwt);
                req.headers
                    .push(("accept", "application/vnd.github+json".into()));
                let r = self.http.send(&req).await?;
                if r.status != 201 && r.status != 200 {
                    return Err(classify(&path, &r));
                }
                let tok: api::InstallationToken = r.json(&path)?;
                residual_probe::redact::register(&tok.token);
                self.token = SecretString::from(tok.token);
                self.sees_all = true;
                Ok(format!(
                    "app {} ({}) installation {installation_id}",
                    app.slug.unwrap_or_default(),
                    app.id
                ))
            }
        }
    }
}

/// A GitHub App JWT (RS256, `iss` = app id, valid ten minutes with a minute of clock skew).
fn app_jwt(app_id: u64, pem: &SecretString) -> Result<SecretString, ProbeError> {
    #[derive(serde::Serialize)]
    struct Claims {
        iat: i64,
        exp: i64,
        iss: String,
    }
    let now = now().unix_timestamp();
    let claims = Claims {
        iat: now - 60,
        exp: now + 540,
        iss: app_id.to_string(),
    };
    residual_probe::jwt::sign_rs256(&claims, pem, None, "private_key_file")
}
