//! [`S3Trail`]: a customer's CloudTrail bucket, read with the account's credentials
//! ([`dd0c_ports::sources::TrailBucket`]).

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
#[derive(Debug, Clone)]
pub struct S3Trail {
    client: aws_sdk_s3::Client,
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
            client: aws_sdk_s3::Client::from_conf(s3),
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

#[async_trait]
impl TrailBucket for S3Trail {
    async fn folders(&self, folder: &str) -> PortResult<Vec<String>> {
        let mut folders = Vec::new();
        let mut pages = self
            .client
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
                .client
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
            .client
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
