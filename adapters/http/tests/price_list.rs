//! PriceListHttp against a real HTTP server on loopback serving the directory the suite fills,
//! and the endpoints it cannot use.

use dd0c_adapters_http::PriceListHttp;
use dd0c_ports::conformance;
use dd0c_ports::price_list::PriceList;
use dd0c_ports::PortError;
use dd0c_tests::StaticFiles;

fn fresh_root(name: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("dd0c-price-list-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("root");
    root
}

#[tokio::test]
async fn http_passes_the_price_list_suite_against_a_real_server() {
    let root = fresh_root("suite");
    let server = StaticFiles::serve(&root).await.expect("server");
    let list = PriceListHttp::new(&format!("{}/", server.url())).expect("client");
    conformance::price_list_suite(&root, &list).await;
    assert_eq!(list.describe(), server.url());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_and_a_bad_url_invalid() {
    let port = dd0c_tests::free_port();
    let list = PriceListHttp::new(&format!("http://127.0.0.1:{port}")).expect("client");
    let err = list
        .get("/offers/v1.0/aws/index.json")
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, PortError::Unavailable(_)), "{err}");
    assert!(err.is_retryable());
    let err = PriceListHttp::new("ftp://pricing.example").expect_err("not http");
    assert!(err.to_string().contains("ftp://pricing.example"), "{err}");
}
