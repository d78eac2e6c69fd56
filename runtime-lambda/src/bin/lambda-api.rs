//! `lambda-api`: the dashboard API behind API Gateway (HTTP API, payload v2), Cognito tokens.

use dd0c_lambda::functions::api;
use dd0c_lambda::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let router = api(&Settings::load().await?)?;
    lambda_http::run(router).await
}
