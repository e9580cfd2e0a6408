//! Every fixture through the core directly, natively: the reference the
//! component, the CLI and the other language hosts must agree with.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use switchboard_core::{Config, Error, Request, process};

#[test]
fn every_fixture_through_the_core() {
    switchboard_fixtures::run_all("core", |fixture| {
        let config = Config::from_json(&fixture.config_json())
            .map_err(Error::Config)
            .map_err(|e| (e.class().to_string(), e.to_string()))?;
        let headers = fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let request = Request::new(headers, &fixture.body);
        process(&request, fixture.vendor.as_deref(), &config, fixture.now)
            .map(|event| serde_json::from_str(&event.to_json()).expect("events are JSON"))
            .map_err(|e| (e.class().to_string(), e.to_string()))
    });
}
