//! Who is a member, and with which role: the SAML directory (email → login) when a leaver
//! needs it, the planner's choice between a full listing and targeted lookups, page-numbered
//! lists fetched concurrently, and teams as evidence.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use residual_probe::http::{link_next, link_rel, Reply};
use residual_probe::{Account, Gap, ProbeError};
use serde::de::DeserializeOwned;

use crate::estate::member_account;
use crate::{
    api, bad, classify, Collector, Plan, FINE_GRAINED_PAT_GRANTED, ORG_MEMBER, PER_PAGE,
    SSO_CREDENTIAL_AUTHORIZED,
};

/// The checks that need the SAML directory to find a leaver who has no GitHub login.
const SAML_FED: &[residual_probe::CheckId] = &[
    ORG_MEMBER,
    SSO_CREDENTIAL_AUTHORIZED,
    FINE_GRAINED_PAT_GRANTED,
];

/// What the membership phase found.
pub(crate) struct Core {
    pub(crate) plan: Plan,
    pub(crate) login_to_nameid: HashMap<String, String>,
    pub(crate) accounts: BTreeMap<String, Account>,
    pub(crate) enumerated: u64,
    pub(crate) notes: Vec<String>,
    pub(crate) gaps: Vec<Gap>,
}

impl Collector<'_> {
    /// SAML NameID (normalised email) → login, or `None` when the org has no SAML provider.
    async fn saml_identities(&self) -> Result<Option<HashMap<String, String>>, ProbeError> {
        let url = api::graphql_url(&self.base);
        let mut map = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let body = serde_json::json!({
                "query": api::SAML_QUERY,
                "variables": {"org": self.inst.org, "first": PER_PAGE, "after": after},
            });
            let mut req = self.request(url.clone(), "/graphql (SAML identities)");
            req.method = residual_probe::http::Method::POST;
            req.headers
                .push(("content-type", "application/json".into()));
            req.body = Some(serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?);
            let r = self.http.send(&req).await?;
            if r.status != 200 {
                return Err(classify("/graphql", &r));
            }
            let g: api::GraphQl<api::SamlData> = r.json("/graphql")?;
            if let Some(e) = g.errors.first() {
                let m = residual_probe::redact::redact(&e.message);
                return Err(match e.kind.as_deref() {
                    Some("FORBIDDEN") | Some("INSUFFICIENT_SCOPES") => {
                        ProbeError::Permission(format!("/graphql SAML identities: {m}"))
                    }
                    _ => ProbeError::Unexpected(format!("/graphql SAML identities: {m}")),
                });
            }
            let org = g.data.and_then(|d| d.organization).ok_or_else(|| {
                ProbeError::Permission(format!(
                    "/graphql: organization {} not visible to this token",
                    self.inst.org
                ))
            })?;
            let Some(idp) = org.saml_identity_provider else {
                return Ok(None);
            };
            let conn = idp.external_identities;
            for n in conn.nodes {
                if let (Some(name_id), Some(user)) =
                    (n.saml_identity.and_then(|s| s.name_id), n.user)
                {
                    map.insert(residual_probe::normalize_email(&name_id), user.login);
                }
            }
            if !conn.page_info.has_next_page {
                return Ok(Some(map));
            }
            after = conn.page_info.end_cursor;
            if after.is_none() {
                return Err(bad("/graphql: hasNextPage without endCursor".into()));
            }
        }
    }

    /// Who is a member, and with which role: the SAML directory (when a leaver needs it),
    /// the planner's choice, then a full listing or targeted lookups.
    pub(crate) async fn membership(
        &self,
        cands: &residual_probe::Candidates,
    ) -> Result<Core, ProbeError> {
        let org = &self.inst.org;
        let mut core = Core {
            plan: Plan::List,
            login_to_nameid: HashMap::new(),
            accounts: BTreeMap::new(),
            enumerated: 0,
            notes: Vec::new(),
            gaps: Vec::new(),
        };
        let members_path = format!("/orgs/{org}/members");
        let first_url = self.url(&format!("{members_path}?per_page={PER_PAGE}"));
        // Only a leaver without a GitHub handle needs the directory; for a huge org it is the
        // most expensive read of the scan (one GraphQL page per 100 identities).
        let (directory, first) = futures::join!(
            async {
                if cands.needs_directory {
                    self.saml_identities().await
                } else {
                    Ok(Some(HashMap::new()))
                }
            },
            self.get_ok(first_url, &members_path),
        );
        let mut saml: HashMap<String, String> = HashMap::new();
        match directory {
            Ok(Some(m)) if cands.needs_directory => {
                core.notes
                    .push(format!("SAML SSO: {} linked identities", m.len()));
                saml = m;
            }
            Ok(Some(_)) => core
                .notes
                .push("SAML identities not read: every leaver has an explicit GitHub login".into()),
            Ok(None) if self.sees_all => core
                .notes
                .push("SAML SSO: not configured for this org; matching by login only".into()),
            // Only owners (and Apps) see the SAML provider: for anyone else "none" may mean
            // "hidden", and leavers without a GitHub login could not be matched.
            Ok(None) => core.gaps.push(Gap::blocks(
                "SAML identities (not visible to a non-owner token)",
                SAML_FED,
                ProbeError::Permission("the SAML provider is visible to org owners only; scan with an owner's token or a GitHub App".into()),
            )),
            // Without the directory a leaver with no known login could not be matched: a gap
            // against every check, never "no account".
            Err(e) => core
                .gaps
                .push(Gap::blocks("SAML identities (email to login)", SAML_FED, e)),
        }
        core.login_to_nameid = saml
            .iter()
            .map(|(e, l)| (l.to_lowercase(), e.clone()))
            .collect();
        let mut logins: BTreeSet<String> = cands.logins.iter().cloned().collect();
        for e in &cands.emails {
            if let Some(l) = saml.get(e) {
                logins.insert(l.to_lowercase());
            }
        }

        // The first members page prices a full listing.
        let first = first?;
        let last_page = link_rel(first.header("link"), "last")
            .and_then(|u| page_param(&u))
            .unwrap_or(1);
        let list_cost = (last_page - 1) + 1; // remaining member pages + the owners listing
        core.plan = if (logins.len() as u64) < list_cost {
            Plan::Targeted
        } else {
            Plan::List
        };
        core.notes.push(format!(
            "planner: {} ({} candidate logins to look up vs {} more pages to list {} member page(s))",
            if core.plan == Plan::Targeted { "targeted lookups" } else { "full listing" },
            logins.len(),
            list_cost,
            last_page
        ));
        match core.plan {
            Plan::List => {
                let mut members: Vec<api::SimpleUser> = first.json(&members_path)?;
                let (rest, owners) = futures::join!(
                    self.rest_of_pages::<api::SimpleUser>(&first, &members_path),
                    self.list::<api::SimpleUser>(
                        self.url(&format!("{members_path}?role=admin&per_page={PER_PAGE}")),
                        &members_path
                    ),
                );
                members.extend(rest?);
                let owners: BTreeSet<u64> = owners?.iter().map(|u| u.id).collect();
                core.enumerated = members.len() as u64;
                for u in members {
                    let role = if owners.contains(&u.id) {
                        "owner"
                    } else {
                        "member"
                    };
                    core.accounts.insert(
                        u.login.to_lowercase(),
                        member_account(&u, role, &core.login_to_nameid),
                    );
                }
            }
            Plan::Targeted => {
                let path = format!("/orgs/{org}/memberships/{{username}}");
                let results: Vec<(String, Option<api::Membership>)> = residual_probe::bounded(
                    self.inst.concurrency,
                    logins.iter().cloned().map(|login| {
                        let path = path.clone();
                        async move {
                            let url =
                                self.url(&format!("/orgs/{}/memberships/{login}", self.inst.org));
                            let r = self.get(url, &path).await?;
                            let m = match r.status {
                                200 => Some(r.json::<api::Membership>(&path)?),
                                // Not a member: a determinate answer (the token's own
                                // membership was checked, so a 404 is not "hidden").
                                404 => None,
                                _ => return Err(classify(&path, &r)),
                            };
                            Ok((login, m))
                        }
                    }),
                )
                .await?;
                core.enumerated = logins.len() as u64;
                for (login, m) in results {
                    // Pending memberships are invitations, listed separately.
                    if let Some(m) = m.filter(|m| m.state == "active") {
                        let u = m.user.unwrap_or(api::SimpleUser {
                            login: login.clone(),
                            id: 0,
                        });
                        let role = if m.role == "admin" { "owner" } else { "member" };
                        core.accounts.insert(
                            u.login.to_lowercase(),
                            member_account(&u, role, &core.login_to_nameid),
                        );
                    }
                }
            }
        }
        Ok(core)
    }

    /// Pages 2..N of a page-numbered list, fetched concurrently: their URLs are the server's
    /// own `rel="next"` link with only `page=` changed. A list without page numbers in its
    /// links is followed one `next` at a time instead.
    async fn rest_of_pages<T: DeserializeOwned>(
        &self,
        first: &Reply,
        path: &str,
    ) -> Result<Vec<T>, ProbeError> {
        let link = first.header("link");
        let (Some(next), Some(last)) = (
            link_next(link),
            link_rel(link, "last").and_then(|u| page_param(&u)),
        ) else {
            return match link_next(link) {
                Some(next) => self.list(next, path).await,
                None => Ok(Vec::new()),
            };
        };
        if page_param(&next) != Some(2) || last > 100_000 {
            return self.list(next, path).await;
        }
        let mut pages: Vec<(u64, Vec<T>)> = residual_probe::bounded(
            self.inst.concurrency,
            (2..=last).map(|p| {
                let url = with_page(&next, p);
                async move {
                    let r = self.get_ok(url, path).await?;
                    Ok((p, r.json::<Vec<T>>(path)?))
                }
            }),
        )
        .await?;
        pages.sort_by_key(|(p, _)| *p);
        Ok(pages.into_iter().flat_map(|(_, v)| v).collect())
    }

    pub(crate) async fn teams(
        &self,
        path: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, ProbeError> {
        let teams: Vec<api::Team> = self
            .list(self.url(&format!("{path}?per_page={PER_PAGE}")), path)
            .await?;
        let mpath = format!("/orgs/{}/teams/{{team_slug}}/members", self.inst.org);
        let results: Vec<(String, Vec<api::SimpleUser>)> = residual_probe::bounded(
            self.inst.concurrency,
            teams.into_iter().map(|t| {
                let mpath = mpath.clone();
                async move {
                    let url = self.url(&format!(
                        "/orgs/{}/teams/{}/members?per_page={PER_PAGE}",
                        self.inst.org, t.slug
                    ));
                    self.list::<api::SimpleUser>(url, &mpath)
                        .await
                        .map(|m| (t.slug, m))
                }
            }),
        )
        .await?;
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in results {
            let (slug, members) = r;
            for m in members {
                out.entry(m.login.to_lowercase())
                    .or_default()
                    .push(slug.clone());
            }
        }
        for slugs in out.values_mut() {
            slugs.sort();
        }
        Ok(out)
    }
}

/// The same URL with its `page=` query parameter set to `page`.
fn with_page(url: &str, page: u64) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let params: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            if kv.starts_with("page=") {
                format!("page={page}")
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

/// `page=N` of a Link URL.
fn page_param(url: &str) -> Option<u64> {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_change_only_the_page() {
        let next = "http://h/organizations/9/members?per_page=100&page=2";
        assert_eq!(
            with_page(next, 7),
            "http://h/organizations/9/members?per_page=100&page=7"
        );
        assert_eq!(page_param(next), Some(2));
        assert_eq!(page_param("http://h/x?per_page=100"), None);
    }
}
