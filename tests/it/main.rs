//! Integration tests of the `residual` binary: one test binary for the workspace (fewer link
//! steps on a 2-core machine). AWS tests run against a real moto server started by
//! `harness::Moto`; nothing is mocked in-process.

mod aws_moto;
mod aws_org;
mod deploy;
mod github;
mod google;
mod harness;
mod hostile;
mod html;
mod leavers_bad;
mod microsoft;
mod okta;
mod reports;
mod saas;
mod shards;
mod vault;
