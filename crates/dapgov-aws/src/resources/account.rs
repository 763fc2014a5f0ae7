//! The account-wide settings dapgov owns: the password policy and S3 Block Public Access; and
//! one it reads for the audit: whether Cost Explorer counts the `project` tag.

use crate::AwsTarget;
use crate::error::sdk;
use crate::read::absent;
use crate::resources::s3::public_access_block::from_flags as public_access_block;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};

/// The settings, and the properties that could not be read (as `account:<property>`).
async fn read(t: &AwsTarget, account: &str) -> TargetResult<(AccountSettings, Vec<String>)> {
    let tags = async {
        match crate::cost::client(t) {
            Ok(ce) => crate::cost::allocation_tags(&ce).await,
            Err(e) => Err(e.to_string()),
        }
    };
    let (pw, pab, tags) = tokio::join!(
        t.clients.iam.get_account_password_policy().send(),
        t.clients
            .s3control
            .get_public_access_block()
            .account_id(account)
            .send(),
        tags
    );
    let password_policy = absent(
        pw,
        &["NoSuchEntity"],
        "iam:GetAccountPasswordPolicy",
        "the account",
    )?
    .and_then(|p| {
        p.password_policy().map(|p| PasswordPolicy {
            minimum_length: p.minimum_password_length().unwrap_or(0) as u32,
            require_symbols: p.require_symbols(),
            require_numbers: p.require_numbers(),
            require_uppercase: p.require_uppercase_characters(),
            require_lowercase: p.require_lowercase_characters(),
            // IAM reports 0 (or nothing) when passwords never expire.
            max_age_days: p.max_password_age().filter(|d| *d > 0).map(|d| d as u32),
            reuse_prevention: p.password_reuse_prevention().map(|d| d as u32),
        })
    });
    let public_access_block = absent(
        pab,
        &["NoSuchPublicAccessBlockConfiguration"],
        "s3:GetAccountPublicAccessBlock",
        "the account",
    )?
    .and_then(|o| o.public_access_block_configuration().cloned())
    .map(|c| {
        public_access_block([
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets(),
        ])
    });
    let mut unreadable = vec![];
    let cost_allocation_tags = match tags {
        Ok(tags) => Some(tags),
        Err(why) => {
            tracing::warn!("Cost Explorer did not list the cost-allocation tags: {why}");
            unreadable.push("account:cost_allocation_tags".to_string());
            None
        }
    };
    Ok((
        AccountSettings {
            password_policy,
            public_access_block,
            cost_allocation_tags,
        },
        unreadable,
    ))
}

async fn put(t: &AwsTarget, want: AccountSettings) -> TargetResult<()> {
    if let Some(p) = &want.password_policy {
        let mut req = t
            .clients
            .iam
            .update_account_password_policy()
            .minimum_password_length(p.minimum_length as i32)
            .require_symbols(p.require_symbols)
            .require_numbers(p.require_numbers)
            .require_uppercase_characters(p.require_uppercase)
            .require_lowercase_characters(p.require_lowercase);
        if let Some(d) = p.max_age_days {
            req = req.max_password_age(d as i32);
        }
        if let Some(n) = p.reuse_prevention {
            req = req.password_reuse_prevention(n as i32);
        }
        req.send()
            .await
            .map_err(|e| sdk("iam:UpdateAccountPasswordPolicy", "the account", e))?;
    }
    if let Some(p) = &want.public_access_block {
        use aws_sdk_s3control::types::PublicAccessBlockConfiguration as Pab;
        let account = t.account().await?;
        let conf = Pab::builder()
            .block_public_acls(p.block_public_acls)
            .ignore_public_acls(p.ignore_public_acls)
            .block_public_policy(p.block_public_policy)
            .restrict_public_buckets(p.restrict_public_buckets)
            .build();
        t.clients
            .s3control
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(conf)
            .send()
            .await
            .map_err(|e| sdk("s3:PutAccountPublicAccessBlock", "the account", e))?;
    }
    Ok(())
}

impl AwsResource for AccountSettings {
    const READ_ACTIONS: &'static [&'static str] = &[
        "iam:GetAccountPasswordPolicy",
        "s3:GetAccountPublicAccessBlock",
        "ce:ListCostAllocationTags",
    ];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        let (settings, unreadable) = read(t, scope.account).await?;
        Ok(Found {
            resources: [(ACCOUNT_SETTINGS_NAME.to_string(), settings)].into(),
            unreadable,
        })
    }
    async fn put(t: &AwsTarget, want: Self, _have: Option<Self>) -> TargetResult<()> {
        put(t, want).await
    }
    async fn delete(_t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        Err(TargetError::Refused {
            resource: c.resource.to_string(),
            message: "account settings are never removed".into(),
        })
    }
}
