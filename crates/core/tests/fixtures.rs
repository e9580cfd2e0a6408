//! Every fixture through the core directly, natively: the reference the
//! component, the CLI and the other language hosts must agree with.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use switchboard_core::error::REASONS;
use switchboard_core::{Config, Error, FAMILIES, Request, process};
use switchboard_fixtures::Refusal;

#[test]
fn every_fixture_through_the_core() {
    switchboard_fixtures::run_all("core", |fixture| {
        let config = Config::from_json(&fixture.config_json())
            .map_err(Error::Config)
            .map_err(|e| refusal(&e))?;
        let headers = fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let request = Request::new(headers, &fixture.body);
        process(&request, fixture.vendor.as_deref(), &config, fixture.now)
            .map(|event| serde_json::from_str(&event.to_json()).expect("events are JSON"))
            .map_err(|e| refusal(&e))
    });
}

fn refusal(error: &Error) -> Refusal {
    Refusal::new(error.class().as_str(), error.reason(), error.to_string())
}

/// Detection is not a priority list: no fixture request is claimed by two
/// families, by its headers or by its body.
#[test]
fn at_most_one_family_claims_any_fixture_request() {
    for fixture in switchboard_fixtures::all() {
        let headers = fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let request = Request::new(headers, &fixture.body);
        let by_headers: Vec<&str> = FAMILIES
            .iter()
            .filter(|f| f.claims_headers(&request))
            .map(|f| f.name())
            .collect();
        assert!(
            by_headers.len() <= 1,
            "{}: claimed by the headers of {by_headers:?}",
            fixture.name
        );
        let Ok(parsed) = switchboard_core::json::parse_bytes(&fixture.body) else {
            continue;
        };
        let Some(payload) = parsed.as_object() else {
            continue;
        };
        let by_body: Vec<&str> = FAMILIES
            .iter()
            .filter(|f| f.claims_body(&request, payload))
            .map(|f| f.name())
            .collect();
        assert!(
            by_body.len() <= 1,
            "{}: claimed by the bodies of {by_body:?}",
            fixture.name
        );
    }
}

/// Every refusal of every fixture has a reason from the closed list, and the
/// list has no reason that no code path gives.
#[test]
fn every_refusal_has_a_listed_reason() {
    let mut given = std::collections::BTreeSet::new();
    for fixture in switchboard_fixtures::all() {
        let outcome = Config::from_json(&fixture.config_json())
            .map_err(Error::Config)
            .and_then(|config| {
                let headers = fixture
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()));
                let request = Request::new(headers, &fixture.body);
                process(&request, fixture.vendor.as_deref(), &config, fixture.now)
            });
        if let Err(error) = outcome {
            assert!(
                REASONS.contains(&error.reason()),
                "{}: {}",
                fixture.name,
                error.reason()
            );
            given.insert(error.reason());
        }
    }
    // The reasons no fixture reaches are the host's (a request document
    // the JSON API cannot read) or need a configuration the loaders refuse.
    let unreached: Vec<&&str> = REASONS.iter().filter(|r| !given.contains(*r)).collect();
    assert!(
        unreached.iter().all(|r| ["invalid-request"].contains(r)),
        "reasons no fixture gives: {unreached:?}"
    );
}
