//! The one error type commands return: the core's [`ErrorBody`], which the UI
//! receives as `{"code": "...", "message": "..."}` — the same codes the HTTP
//! API answers with (`tandem::error_code`).

pub use tandem::error_code::{Code, ErrorBody as CommandError};

#[cfg(test)]
mod tests {
    use super::*;
    use tandem::service::ServiceError;

    #[test]
    fn serializes_as_code_and_message() {
        let e = CommandError::from(ServiceError::NotFound("no document x".into()));
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"code": "not-found", "message": "no document x"})
        );
    }

    #[test]
    fn bad_doc_ids_are_bad_input() {
        let e: CommandError = tandem::DocId::parse("_x").expect_err("reserved").into();
        assert_eq!(e.code, Code::BadInput);
    }
}
