//! [`S3Trail`]: a customer's CloudTrail bucket, read with the account's credentials
//! ([`dd0c_ports::sources::TrailBucket`]). S3 answers a request sent to another region than the
//! bucket's with a redirect the SDK does not follow, so the bucket's region is looked up
//! (`GetBucketLocation`) before the first read.

use async_trait::async_trait;
use aws_sdk_s3::types::Object;
use chrono::{DateTime, Utc};
use dd0c_ports::sources::{TrailBucket, TrailObject};
use dd0c_ports::{PortError, PortResult};

use dd0c_ports::sources::OpenTrail;
use dd0c_ports::zombie::ApiCalls;

use crate::error::sdk;
use crate::recorder::Recorder;

/// One trail bucket.
#[derive(Debug)]
pub struct S3Trail {
    /// The client in the configuration's region, which finds the bucket's.
    base: aws_sdk_s3::Client,
    /// The client in the bucket's region, once known.
    regional: tokio::sync::OnceCell<aws_sdk_s3::Client>,
    bucket: String,
}

impl S3Trail {
    /// Reads `bucket` with `config`'s credentials, each request counted in `calls`;
    /// path-style addresses where an explicit endpoint (an emulator, an S3-compatible store)
    /// is configured, which those serve without DNS tricks.
    pub fn new(config: &aws_config::SdkConfig, bucket: &str, calls: ApiCalls) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .interceptor(Recorder(calls))
            .build();
        S3Trail {
            base: aws_sdk_s3::Client::from_conf(s3),
            regional: tokio::sync::OnceCell::new(),
            bucket: bucket.to_owned(),
        }
    }

    /// `bucket` read with `config`'s own credentials (`dd0c-agent`, inside the account).
    pub fn open(config: &aws_config::SdkConfig, bucket: &str) -> OpenTrail {
        let calls = ApiCalls::default();
        OpenTrail {
            bucket: std::sync::Arc::new(S3Trail::new(config, bucket, calls.clone())),
            calls,
        }
    }

    /// The bucket's region, as reads use it.
    pub async fn region(&self) -> PortResult<String> {
        Ok(self
            .client()
            .await?
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default())
    }

    /// The client for the bucket's region: looked up once, the configuration's own client when
    /// the regions agree.
    async fn client(&self) -> PortResult<&aws_sdk_s3::Client> {
        self.regional
            .get_or_try_init(|| async {
                let location = self
                    .base
                    .get_bucket_location()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .map_err(|e| sdk("S3 GetBucketLocation", e))?;
                let region = bucket_region(location.location_constraint().map(|c| c.as_str()));
                let config = self.base.config();
                if config.region().map(|r| r.as_ref()) == Some(region) {
                    return Ok(self.base.clone());
                }
                let regional = config
                    .to_builder()
                    .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                    .build();
                Ok(aws_sdk_s3::Client::from_conf(regional))
            })
            .await
    }
}

/// The region a `GetBucketLocation` answer names: none (or empty) is us-east-1, and `EU` is the
/// legacy name of eu-west-1.
fn bucket_region(constraint: Option<&str>) -> &str {
    match constraint {
        None | Some("") => "us-east-1",
        Some("EU") => "eu-west-1",
        Some(region) => region,
    }
}

fn trail_object(object: Object) -> Option<TrailObject> {
    Some(TrailObject {
        key: object.key?,
        etag: object
            .e_tag
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned(),
        size: object.size.unwrap_or(0).max(0) as u64,
        last_modified: object
            .last_modified
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bucket_location_names_its_region() {
        use super::bucket_region;
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("ap-south-2")), "ap-south-2");
    }
}

#[async_trait]
impl TrailBucket for S3Trail {
    async fn folders(&self, folder: &str) -> PortResult<Vec<String>> {
        let mut folders = Vec::new();
        let mut pages = self
            .client()
            .await?
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(folder)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("S3 ListObjectsV2", e))?;
            folders.extend(
                page.common_prefixes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.prefix),
            );
        }
        folders.sort();
        Ok(folders)
    }

    async fn objects_after(
        &self,
        folder: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> PortResult<Vec<TrailObject>> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        while objects.len() < limit {
            let page = self
                .client()
                .await?
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(folder)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .max_keys((limit - objects.len()).min(1000) as i32)
                .send()
                .await
                .map_err(|e| sdk("S3 ListObjectsV2", e))?;
            objects.extend(
                page.contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(trail_object),
            );
            match page.next_continuation_token {
                Some(next) if page.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        objects.truncate(limit);
        Ok(objects)
    }

    async fn read(&self, key: &str) -> PortResult<Vec<u8>> {
        let object = self
            .client()
            .await?
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => {
                    PortError::NotFound(format!("s3://{}/{key} is gone", self.bucket))
                }
                _ => sdk("S3 GetObject", e),
            })?;
        let bytes = object.body.collect().await.map_err(|e| {
            PortError::Unavailable(format!("S3 GetObject {key}: reading the body: {e}"))
        })?;
        Ok(bytes.to_vec())
    }
}
