//! Secrets Manager, per configured region: each secret's tags, dates and resource policy —
//! never a value (the guard refuses `GetSecretValue` and its kin).

use std::collections::{BTreeMap, HashMap};

use residual_probe::{Asset, OwnerRef, ProbeError};

use crate::error::{sdk_err, to_time};
use crate::{api, Collector, IDENTITY_TAG_KEYS, SECRET};

impl Collector<'_> {
    /// Every secret of a region (ListSecrets, paginated), then each one's resource policy,
    /// concurrently: a policy may let a leaver's user read a secret they never owned.
    pub(crate) async fn secrets(
        &self,
        region: &str,
        owner_keys: &[String],
    ) -> Result<Vec<Asset>, ProbeError> {
        let conf = aws_sdk_secretsmanager::config::Builder::from(&self.base)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(self.guard.clone())
            .build();
        let sm = aws_sdk_secretsmanager::Client::from_conf(conf);
        let mut entries = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0u32;
        loop {
            let out = sm
                .list_secrets()
                .max_results(100)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListSecrets", e))?;
            entries.extend(out.secret_list().iter().cloned());
            token = out.next_token().map(str::to_string);
            pages += 1;
            if token.is_none() {
                break;
            }
            if pages >= 10_000 {
                return Err(ProbeError::Unexpected(
                    "ListSecrets: pagination does not end".into(),
                ));
            }
        }
        let sm = &sm;
        // Owned ids into the stream: borrowed ones trip async-trait's Send inference.
        let arns: Vec<String> = entries
            .iter()
            .map(|e| e.arn().unwrap_or_default().to_string())
            .collect();
        let policies: Vec<(usize, Option<String>)> = residual_probe::bounded(
            self.concurrency,
            arns.into_iter().enumerate().map(|(i, id)| async move {
                let out = sm
                    .get_resource_policy()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| sdk_err("GetResourcePolicy", e))?;
                Ok((i, out.resource_policy().map(str::to_string)))
            }),
        )
        .await?;
        let policy_of: HashMap<usize, Option<String>> = policies.into_iter().collect();
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let trusted = match policy_of.get(&i).cloned().flatten() {
                Some(doc) => api::trusted_user_arns(
                    &api::decode_policy(&doc).map_err(ProbeError::Unexpected)?,
                ),
                None => vec![],
            };
            let owner_refs = e
                .tags()
                .iter()
                .filter_map(|t| {
                    let k = t.key()?;
                    let lk = k.to_ascii_lowercase();
                    (owner_keys.contains(&lk) || IDENTITY_TAG_KEYS.contains(&lk.as_str())).then(
                        || OwnerRef {
                            key: k.to_string(),
                            value: t.value().unwrap_or_default().to_string(),
                        },
                    )
                })
                .collect();
            let mut attributes = BTreeMap::new();
            attributes.insert("region".into(), region.to_string());
            attributes.insert(
                "rotation_enabled".into(),
                e.rotation_enabled().unwrap_or(false).to_string(),
            );
            if let Some(t) = e.last_rotated_date() {
                attributes.insert("last_rotated".into(), residual_probe::rfc3339(to_time(t)));
            }
            out.push(Asset {
                id: e.arn().unwrap_or_default().to_string(),
                resource_type: SECRET.into(),
                name: e.name().unwrap_or_default().to_string(),
                owner_refs,
                trusted_principals: trusted,
                created_at: e.created_date().map(to_time),
                // The latest of a value change and a rotation is when the secret last changed.
                last_changed_at: e
                    .last_changed_date()
                    .map(to_time)
                    .max(e.last_rotated_date().map(to_time)),
                last_used_at: e.last_accessed_date().map(to_time),
                last_use_tracked: true,
                readable_by_role: None,
                privileges: vec![],
                attributes,
            });
        }
        Ok(out)
    }
}
