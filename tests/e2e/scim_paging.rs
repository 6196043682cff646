//! SCIM paging at its edges (RFC 7644 §3.4.2.4): `count=0`, a `startIndex`
//! past the end, `count` over the server's maximum, values below their
//! range, and a walk over every page that must see each resource exactly
//! once, in order.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scim_support::{
    GROUP_SCHEMA, Idp, USER_SCHEMA, created, filter, id_of, list, scim_error_kind,
};
use crate::support::{TestServer, both_backends};

/// What `/ServiceProviderConfig` says one page may hold at most.
const MAX_RESULTS: u64 = 200;

/// Provisions `count` users named `u000`, `u001`, … in a shuffled order
/// (so creation order is not name order); returns their names, sorted.
fn provision_users(idp: &Idp, count: usize) -> Vec<String> {
    // A fixed permutation of 0..count: 7 is coprime with every count used.
    let names: Vec<String> = (0..count)
        .map(|i| format!("u{:03}", (i * 7) % count))
        .collect();
    for name in &names {
        created(
            &idp.post(
                "/Users",
                json!({ "schemas": [USER_SCHEMA], "userName": name, "active": true }),
            ),
            "User",
        );
    }
    let mut sorted = names;
    sorted.sort();
    sorted
}

fn user_names(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|user| user["userName"].as_str().expect("userName").to_owned())
        .collect()
}

both_backends! {
    fn page_sizes_and_start_indexes_at_their_edges(server: &TestServer) {
        let idp = Idp::generic(server);
        let total = MAX_RESULTS as usize + 5;
        provision_users(&idp, total);
        let total = total as u64;

        // count=0: only the total (RFC 7644 §3.4.2.4, "A value of 0
        // indicates no resource results are to be returned except for
        // totalResults").
        assert!(list(idp.get("/Users?count=0").expect(StatusCode::OK), total, 1).is_empty());
        // A negative count is interpreted as 0.
        assert!(list(idp.get("/Users?count=-5").expect(StatusCode::OK), total, 1).is_empty());
        // startIndex past the end: no resources, the total still told.
        assert!(list(idp.get(&format!("/Users?startIndex={}&count=10", total + 1)).expect(StatusCode::OK), total, total + 1).is_empty());
        assert!(list(idp.get("/Users?startIndex=100000").expect(StatusCode::OK), total, 100000).is_empty());
        // The last, partial page.
        assert_eq!(list(idp.get(&format!("/Users?startIndex={}&count=10", total - 2)).expect(StatusCode::OK), total, total - 2).len(), 3);
        // startIndex below 1 is interpreted as 1.
        for start in ["0", "-3"] {
            let page = list(idp.get(&format!("/Users?startIndex={start}&count=2&sortBy=userName")).expect(StatusCode::OK), total, 1);
            assert_eq!(user_names(&page), ["u000", "u001"], "startIndex={start}");
        }
        // count over the maximum is capped at it; so is no count at all.
        assert_eq!(list(idp.get("/Users?count=100000").expect(StatusCode::OK), total, 1).len() as u64, MAX_RESULTS);
        assert_eq!(list(idp.get("/Users").expect(StatusCode::OK), total, 1).len() as u64, MAX_RESULTS);
        // Not a number: a SCIM 400, not a silent default.
        for query in ["count=ten", "startIndex=first", "count=1.5"] {
            let (_, detail) = scim_error_kind(&idp.get(&format!("/Users?{query}")), StatusCode::BAD_REQUEST);
            assert!(!detail.is_empty(), "{query}");
        }
        // The same rules through POST /.search.
        let reply = idp.post("/Users/.search", json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": total + 3, "count": 0 }));
        assert!(list(reply.expect(StatusCode::OK), total, total + 3).is_empty());
    }

    fn a_walk_over_every_page_sees_each_user_once_in_order(server: &TestServer) {
        let idp = Idp::generic(server);
        let names = provision_users(&idp, 23);

        for (sort, expected) in [
            ("&sortBy=userName", names.clone()),
            ("&sortBy=userName&sortOrder=descending", names.iter().rev().cloned().collect()),
        ] {
            let mut seen = Vec::new();
            let mut start = 1;
            loop {
                let reply = idp.get(&format!("/Users?startIndex={start}&count=5{sort}"));
                let page = list(reply.expect(StatusCode::OK), 23, start);
                if page.is_empty() {
                    break;
                }
                seen.extend(user_names(&page));
                start += page.len() as u64;
            }
            assert_eq!(seen, expected, "{sort}: every user once, in order");
        }

        // Without sortBy the order is the server's, but still stable: the
        // pages together hold every user exactly once.
        let mut seen = Vec::new();
        for start in (1..=23).step_by(4) {
            seen.extend(user_names(&list(idp.get(&format!("/Users?startIndex={start}&count=4")).expect(StatusCode::OK), 23, start)));
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (23, 23), "{seen:?}");

        // A filtered walk pages over the matches only.
        let matching: Vec<String> = names.iter().filter(|name| name.starts_with("u01")).cloned().collect();
        let query = filter("userName sw \"u01\"");
        let first = list(idp.get(&format!("/Users?{query}&sortBy=userName&count=6")).expect(StatusCode::OK), matching.len() as u64, 1);
        let second = list(idp.get(&format!("/Users?{query}&sortBy=userName&count=6&startIndex=7")).expect(StatusCode::OK), matching.len() as u64, 7);
        assert_eq!([user_names(&first), user_names(&second)].concat(), matching);
    }

    fn groups_page_like_users(server: &TestServer) {
        let idp = Idp::generic(server);
        let mut ids = BTreeSet::new();
        for i in 0..7 {
            let group = created(&idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": format!("g{i}") })), "Group");
            ids.insert(id_of(&group));
        }
        assert!(list(idp.get("/Groups?count=0").expect(StatusCode::OK), 7, 1).is_empty());
        assert!(list(idp.get("/Groups?startIndex=8").expect(StatusCode::OK), 7, 8).is_empty());
        let mut seen = BTreeSet::new();
        for start in [1, 4, 7] {
            for group in list(idp.get(&format!("/Groups?startIndex={start}&count=3&sortBy=displayName")).expect(StatusCode::OK), 7, start) {
                assert!(seen.insert(id_of(&group)), "{group} seen twice");
            }
        }
        assert_eq!(seen, ids);
    }
}
