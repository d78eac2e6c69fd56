//! [`S3Archive`]: raw CloudTrail payloads in an S3 bucket (`DD0C_ARCHIVE_BUCKET` in the cloud,
//! `DD0C_ARCHIVE=s3://…` self-hosted, on AWS or an S3-compatible store), optionally under a
//! key prefix.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use dd0c_ports::archive::{validate_key, Archive};
use dd0c_ports::{PortError, PortResult};

use crate::error::sdk;

/// The archive port on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Prepended to every key: empty, or a folder ending with `/`.
    prefix: String,
}

impl S3Archive {
    /// The archive in `bucket`. With an explicit endpoint (an emulator, an S3-compatible
    /// store) requests use path-style addresses, which those serve without DNS tricks.
    pub fn new(config: &aws_config::SdkConfig, bucket: &str) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        S3Archive {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.to_owned(),
            prefix: String::new(),
        }
    }

    /// The same archive with every key under `prefix` (a folder; empty for the root).
    pub fn under(mut self, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        self.prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        self
    }

    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Creates the bucket (emulators and tests; the CDK app declares the real one).
    pub async fn create_bucket(&self) -> PortResult<()> {
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| sdk("S3 CreateBucket", e))?;
        Ok(())
    }
}

#[async_trait]
impl Archive for S3Archive {
    async fn put(&self, key: &str, bytes: &[u8]) -> PortResult<()> {
        validate_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| sdk("S3 PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        validate_key(key)?;
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(sdk("S3 GetObject", e)),
        };
        let bytes =
            object.body.collect().await.map_err(|e| {
                PortError::caused(format!("S3 GetObject {key}: reading the body"), e)
            })?;
        Ok(Some(bytes.to_vec()))
    }

    async fn list(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut token = None;
        while keys.len() < limit {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(self.object_key(prefix))
                .max_keys((limit - keys.len()).min(1000) as i32)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| sdk("S3 ListObjectsV2", e))?;
            keys.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|o| o.key.as_deref()?.strip_prefix(&self.prefix))
                    .map(str::to_owned),
            );
            token = output.next_continuation_token;
            if token.is_none() {
                break;
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|e| sdk("S3 DeleteObject", e))?;
        Ok(())
    }
}
