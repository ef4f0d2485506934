//! Extractors shared by every JSON endpoint: a body whose rejections are
//! `{"error":…}`, and proof that the caller is the owner.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Json;

use super::access::Caller;
use super::error::ApiError;
use super::state::AppState;

/// A JSON request body whose rejections are `{"code":"bad-input",…}` like every other error.
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Proof that the caller is the owner (see [`Caller`]).
pub(crate) struct Owner;

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_owner()?;
        Ok(Owner)
    }
}
