//! The one workaround for AWS-compatible endpoints. S3 Control puts the account id in front
//! of the host (`<account>.s3-control.<region>.amazonaws.com`); against a custom endpoint
//! that becomes `<account>.127.0.0.1:5000`, which does not resolve. With an endpoint override,
//! requests go to the endpoint itself; the account id still travels in `x-amz-account-id`.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug)]
pub(crate) struct AccountHostPrefix {
    /// `host[:port]` of the endpoint override.
    pub authority: String,
}

impl AccountHostPrefix {
    fn rewrite(&self, uri: &str) -> Option<String> {
        let (scheme, rest) = uri.split_once("://")?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (label, tail) = host.split_once('.')?;
        (label.bytes().all(|b| b.is_ascii_digit()) && tail == self.authority)
            .then(|| format!("{scheme}://{tail}{path}"))
    }
}

impl Intercept for AccountHostPrefix {
    fn name(&self) -> &'static str {
        "AccountHostPrefix"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        if let Some(uri) = self.rewrite(req.uri()) {
            req.set_uri(uri)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_account_label_in_front_of_the_endpoint_is_removed() {
        let i = AccountHostPrefix {
            authority: "127.0.0.1:5000".into(),
        };
        assert_eq!(
            i.rewrite(
                "http://123456789012.127.0.0.1:5000/v20180820/configuration/publicAccessBlock"
            )
            .as_deref(),
            Some("http://127.0.0.1:5000/v20180820/configuration/publicAccessBlock")
        );
        assert_eq!(i.rewrite("http://127.0.0.1:5000/v20180820/x"), None);
        assert_eq!(
            i.rewrite("https://123456789012.s3-control.ca-central-1.amazonaws.com/v20180820/x"),
            None
        );
    }
}
