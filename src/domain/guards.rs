//! Guards against an identity provider taking away what the service needs
//! to stay administrable: the last active holder of the `admin` role.

use super::roles::ADMIN;
use crate::store::rails as rail_rows;
use crate::store::users as user_rows;
use crate::store::{Conn, StoreError};

/// Whether `user_id` is the last user who holds `admin` and can use it:
/// active, not deprovisioned or pending, not deleted. Taking their access
/// or their role would leave no such user.
///
/// Callers that act on the answer must hold the breaker row lock
/// ([`crate::store::rails::lock_breaker`]) in the same transaction, as every
/// SCIM deprovisioning does: then two requests cannot both see another admin
/// left and take away one each.
pub async fn is_last_admin(conn: &mut Conn, user_id: &str) -> Result<bool, StoreError> {
    let Some(user) = user_rows::get(conn, user_id).await? else {
        return Ok(false);
    };
    let usable = user.active
        && user.deleted_at.is_none()
        && user.deprovision_state == crate::api::users::DeprovisionState::None;
    if !usable {
        return Ok(false);
    }
    let holds = user_rows::roles_of(conn, &[user_id])
        .await?
        .remove(user_id)
        .unwrap_or_default()
        .iter()
        .any(|role| role == ADMIN);
    if !holds {
        return Ok(false);
    }
    Ok(rail_rows::count_active_holders(conn, ADMIN, Some(user_id)).await? == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::actor::Actor;
    use crate::domain::deprovision;
    use crate::domain::test_store::TestStore;

    async fn id_of(test: &TestStore, name: &str) -> String {
        let mut conn = test.store.conn().await.expect("connection");
        user_rows::find_by_user_name(&mut conn, name)
            .await
            .expect("query")
            .expect("user")
            .id
    }

    async fn last(test: &TestStore, name: &str) -> bool {
        let id = id_of(test, name).await;
        let mut conn = test.store.conn().await.expect("connection");
        is_last_admin(&mut conn, &id).await.expect("guard")
    }

    #[tokio::test]
    async fn only_the_one_usable_admin_is_the_last() {
        let test = TestStore::new().await;
        test.user("ada", &["admin"], &[]).await;
        test.user("bob", &["admin"], &[]).await;
        test.user("cy", &["member"], &[]).await;
        assert!(!last(&test, "ada").await, "bob is another admin");
        assert!(!last(&test, "cy").await, "cy holds no admin role");
        deprovision::deprovision(&test.store, &Actor::system(), "bob", None, false)
            .await
            .expect("deprovision bob");
        assert!(last(&test, "ada").await, "bob no longer counts");
        assert!(
            !last(&test, "bob").await,
            "a deprovisioned user is nobody's last admin"
        );
    }
}
