//! `infra-cdk/contract.json` says what the code says: the table, the redelivery limit, the
//! ingest rule's group, the customer role's read actions and the priced calls' event pattern.
//! `DD0C_BLESS=1 cargo test -p dd0c-lambda --test contract` rewrites it after a change.

#[test]
fn infra_cdk_contract_is_what_the_code_says() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra-cdk/contract.json");
    let generated =
        serde_json::to_string_pretty(&dd0c_lambda::contract::contract()).expect("JSON") + "\n";
    if std::env::var_os("DD0C_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("writing the contract");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from the code: run DD0C_BLESS=1 cargo test -p dd0c-lambda --test contract, \
         then review the CDK app's tests",
        path.display()
    );
}

#[test]
fn the_customer_rule_forwards_every_priced_call() {
    let pattern = dd0c_lambda::contract::event_pattern();
    let sources: Vec<&str> = pattern["source"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    let names = pattern["detail"]["eventName"].as_array().expect("a list");
    let exact: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
    let prefixes: Vec<&str> = names.iter().filter_map(|n| n["prefix"].as_str()).collect();
    for (source, name) in dd0c_ingest::priced_calls() {
        let service = format!("aws.{}", source.trim_end_matches(".amazonaws.com"));
        assert!(sources.contains(&service.as_str()), "{service}");
        assert!(
            exact.contains(&name) || prefixes.iter().any(|p| name.starts_with(p)),
            "{name}"
        );
    }
    assert!(exact.contains(&"RunInstances") && exact.contains(&"TerminateInstances"));
    assert!(sources.contains(&"aws.ec2"));
    // Lambda records its calls with an API version: `CreateFunction20150331`.
    assert!(prefixes.contains(&"CreateFunction") && !exact.contains(&"CreateFunction"));
    let pattern = pattern.to_string();
    assert!(
        pattern.len() < 2048,
        "EventBridge's pattern limit: {}",
        pattern.len()
    );
}
