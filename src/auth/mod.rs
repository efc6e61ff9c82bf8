//! Who the caller is: passwords, tokens and the [`AuthUser`] extractor (signing in is the use case `service::login`).

pub mod cache;
pub mod extractor;
pub mod hashers;
pub mod password;
pub mod secret;
pub mod token;

pub use extractor::{AuthUser, IngestCaller};
pub use token::TokenKeys;
