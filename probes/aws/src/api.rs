//! Wire formats of the IAM API that the SDK leaves to us: the credential report (a CSV blob)
//! and policy documents (URL-encoded JSON strings in GetAccountAuthorizationDetails).

use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One row of the IAM credential report. Only the columns the probe needs.
/// Column reference: IAM User Guide, "Getting credential reports", report format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRow {
    pub user: String,
    pub arn: String,
    pub password_enabled: bool,
    pub password_last_used: Option<OffsetDateTime>,
    pub password_last_changed: Option<OffsetDateTime>,
    pub access_keys: [KeySlot; 2],
    pub certs_active: [bool; 2],
}

/// `access_key_N_*` columns. The report does not carry the key id: slots are tied to keys by
/// creation time (`last_rotated` is the key's CreateDate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySlot {
    pub active: bool,
    pub last_rotated: Option<OffsetDateTime>,
    pub last_used: Option<OffsetDateTime>,
}

/// Parse the report. Errors name the line, so a truncated or changed report is never read as
/// "no users".
pub fn parse_credential_report(bytes: &[u8]) -> Result<Vec<ReportRow>, String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| format!("credential report header: {e}"))?
        .clone();
    let idx: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    let col = |name: &str| -> Result<usize, String> {
        idx.get(name)
            .copied()
            .ok_or_else(|| format!("credential report has no column {name:?}"))
    };
    let c_user = col("user")?;
    let c_arn = col("arn")?;
    let c_pw = col("password_enabled")?;
    let c_pw_used = col("password_last_used")?;
    let c_pw_changed = col("password_last_changed")?;
    let mut key_cols = Vec::new();
    for n in 1..=2 {
        key_cols.push((
            col(&format!("access_key_{n}_active"))?,
            col(&format!("access_key_{n}_last_rotated"))?,
            col(&format!("access_key_{n}_last_used_date"))?,
        ));
    }
    let c_cert1 = col("cert_1_active")?;
    let c_cert2 = col("cert_2_active")?;

    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("credential report line {line}: {e}"))?;
        let get = |c: usize| rec.get(c).unwrap_or("");
        let user = get(c_user).to_string();
        if user == "<root_account>" {
            continue;
        }
        let b = |c: usize| parse_bool(get(c)).map_err(|e| format!("line {line}: {e}"));
        let t = |c: usize| parse_time(get(c)).map_err(|e| format!("line {line}: {e}"));
        let mut slots: [KeySlot; 2] = Default::default();
        for (slot, (a, r, u)) in slots.iter_mut().zip(&key_cols) {
            *slot = KeySlot {
                active: b(*a)?,
                last_rotated: t(*r)?,
                last_used: t(*u)?,
            };
        }
        rows.push(ReportRow {
            arn: get(c_arn).to_string(),
            password_enabled: get(c_pw) != "not_supported" && b(c_pw)?,
            password_last_used: t(c_pw_used)?,
            password_last_changed: t(c_pw_changed)?,
            access_keys: slots,
            certs_active: [b(c_cert1)?, b(c_cert2)?],
            user,
        });
    }
    Ok(rows)
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("expected true or false, found {other:?}")),
    }
}

/// Report dates are ISO 8601 or one of the documented placeholders.
fn parse_time(s: &str) -> Result<Option<OffsetDateTime>, String> {
    match s {
        "" | "N/A" | "no_information" | "not_supported" => Ok(None),
        s => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|e| format!("bad date {s:?}: {e}")),
    }
}

/// Policy documents in GetAccountAuthorizationDetails are URL-encoded JSON (RFC 3986).
pub fn decode_policy(doc: &str) -> Result<serde_json::Value, String> {
    let decoded = percent_encoding::percent_decode_str(doc)
        .decode_utf8()
        .map_err(|e| format!("policy document is not UTF-8: {e}"))?;
    // Already-decoded documents (some emulators) parse directly.
    serde_json::from_str(&decoded)
        .or_else(|_| serde_json::from_str(doc))
        .map_err(|e| format!("policy document is not JSON: {e}"))
}

fn as_list(v: Option<&serde_json::Value>) -> Vec<&serde_json::Value> {
    match v {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => vec![],
    }
}

fn statements(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    as_list(doc.get("Statement"))
}

fn is_allow(st: &serde_json::Value) -> bool {
    st.get("Effect").and_then(|e| e.as_str()) == Some("Allow")
}

/// IAM actions that let a principal give itself or others any power: holding one is admin
/// power for this tool's purpose (an attacker with it can mint new credentials).
const IAM_ESCALATION: &[&str] = &[
    "iam:*",
    "iam:create*",
    "iam:put*",
    "iam:attach*",
    "iam:update*",
    "iam:createaccesskey",
    "iam:createloginprofile",
    "iam:updateloginprofile",
    "iam:putuserpolicy",
    "iam:putrolepolicy",
    "iam:putgrouppolicy",
    "iam:attachuserpolicy",
    "iam:attachrolepolicy",
    "iam:attachgrouppolicy",
    "iam:createpolicyversion",
    "iam:addusertogroup",
    "iam:updateassumerolepolicy",
    "iam:passrole",
];

/// Why a policy document grants admin power, if it does: `*` actions, `NotAction` allows
/// (everything but a list), or IAM write actions.
pub fn admin_power(doc: &serde_json::Value) -> Option<String> {
    for st in statements(doc) {
        if !is_allow(st) {
            continue;
        }
        if st.get("NotAction").is_some() {
            return Some("Allow with NotAction".into());
        }
        for a in as_list(st.get("Action")) {
            let a = a.as_str().unwrap_or("").to_ascii_lowercase();
            if a == "*" || a == "*:*" {
                return Some("Action \"*\"".into());
            }
            if IAM_ESCALATION.contains(&a.as_str()) {
                return Some(format!("IAM write ({a})"));
            }
        }
    }
    None
}

/// AWS-managed policies that are admin power by themselves (their documents are not fetched).
pub fn aws_managed_admin(arn: &str) -> bool {
    matches!(
        arn.rsplit('/').next(),
        Some("AdministratorAccess") | Some("IAMFullAccess")
    ) && arn.starts_with("arn:aws")
        && arn.contains(":iam::aws:policy/")
}

/// User ARNs a trust policy lets assume the role (`Principal.AWS` of Allow statements).
pub fn trusted_user_arns(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for st in statements(doc) {
        if !is_allow(st) {
            continue;
        }
        if let Some(p) = st.get("Principal") {
            for v in as_list(p.get("AWS")) {
                if let Some(s) = v.as_str() {
                    if s.contains(":user/") {
                        out.push(s.to_string());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::123456789012:user/alice,2024-01-01T00:00:00+00:00,TRUE,2026-11-20T10:00:00+00:00,2024-01-01T00:00:00+00:00,N/A,false,true,2024-02-01T00:00:00+00:00,2026-11-25T00:00:00+00:00,us-east-1,sts,false,N/A,N/A,N/A,N/A,false,N/A,true,2025-01-01T00:00:00+00:00
";

    #[test]
    fn parses_report_and_skips_root() {
        let rows = parse_credential_report(REPORT.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        let a = &rows[0];
        assert_eq!(a.user, "alice");
        assert!(a.password_enabled);
        assert!(a.access_keys[0].active && !a.access_keys[1].active);
        assert!(a.access_keys[0].last_used.is_some());
        assert_eq!(a.certs_active, [false, true]);
    }

    #[test]
    fn report_with_bad_boolean_is_an_error_not_an_empty_list() {
        let bad = REPORT.replace("TRUE", "maybe");
        let err = parse_credential_report(bad.as_bytes()).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn admin_detection() {
        let d = decode_policy("%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D").unwrap();
        assert!(admin_power(&d).is_some());
        let d: serde_json::Value = serde_json::json!({"Statement":[{"Effect":"Allow","Action":["s3:GetObject","IAM:CreateAccessKey"],"Resource":"*"}]});
        assert_eq!(admin_power(&d).unwrap(), "IAM write (iam:createaccesskey)");
        let d: serde_json::Value = serde_json::json!({"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"s3:*","Resource":"*"}]});
        assert!(admin_power(&d).is_none());
        assert!(aws_managed_admin(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(!aws_managed_admin(
            "arn:aws:iam::123456789012:policy/AdministratorAccess"
        ));
    }

    #[test]
    fn trust_policy_users() {
        let d = serde_json::json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:user/erin","arn:aws:iam::1:root"]},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        assert_eq!(trusted_user_arns(&d), vec!["arn:aws:iam::1:user/erin"]);
    }
}
