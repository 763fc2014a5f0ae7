//! Many accounts: the accounts of an AWS Organization, and the platform read in each through a
//! role assumed there (city IT runs dev, test and prod apart), plus findings into Security Hub.

use crate::error::sdk;
use crate::{AwsTarget, Clients};
use dapgov_inventory::Arns;
use dapgov_target::{TargetError, TargetResult};
use tokio::sync::OnceCell;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
}

impl AwsTarget {
    fn loaded_conf(&self, what: &str) -> TargetResult<&aws_types::SdkConfig> {
        self.conf.as_ref().ok_or_else(|| {
            TargetError::Other(format!(
                "{what} needs a target loaded from the AWS configuration"
            ))
        })
    }

    /// The organization's active accounts (`organizations:ListAccounts`: run it with the
    /// management account's credentials or a delegated administrator's).
    pub async fn organization_accounts(&self) -> TargetResult<Vec<Account>> {
        let client = aws_sdk_organizations::Client::new(
            self.loaded_conf("listing the organization's accounts")?,
        );
        let mut out = Vec::new();
        let mut pages = client.list_accounts().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk("organizations:ListAccounts", "the organization", e))?;
            for a in page.accounts() {
                let active = a.state().is_none_or(|s| s.as_str() == "ACTIVE");
                if let (Some(id), true) = (a.id(), active) {
                    out.push(Account {
                        id: id.to_string(),
                        name: a.name().unwrap_or(id).to_string(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// This target as the role `role_name` of `account`, in `region`.
    pub async fn in_account(
        &self,
        account: &str,
        role_name: &str,
        region: &str,
    ) -> TargetResult<AwsTarget> {
        let conf = self.loaded_conf("assuming a role in another account")?;
        let role_arn = Arns::new(account, region).role(role_name);
        let assumed = self
            .clients
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("dapgov-audit")
            .send()
            .await
            .map_err(|e| sdk("sts:AssumeRole", &role_arn, e))?;
        let (role_conf, _) = crate::session::assumed_conf(conf, &assumed, &role_arn)?;
        let role_conf = role_conf
            .to_builder()
            .region(aws_types::region::Region::new(region.to_string()))
            .build();
        Ok(AwsTarget {
            clients: Clients::from_conf(&role_conf),
            region: region.to_string(),
            conf: Some(role_conf),
            account: OnceCell::new_with(Some(account.to_string())),
        })
    }

    /// Import ASFF findings into this account's Security Hub, in this target's region.
    pub async fn import_findings(
        &self,
        findings: &[serde_json::Value],
    ) -> TargetResult<crate::securityhub::Imported> {
        let client =
            aws_sdk_securityhub::Client::new(self.loaded_conf("importing into Security Hub")?);
        crate::securityhub::import(&client, findings).await
    }
}
