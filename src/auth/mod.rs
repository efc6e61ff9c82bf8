//! Who the caller is: passwords, tokens, the [`AuthUser`] extractor and sign-in.

pub mod accounts;
pub mod cache;
pub mod extractor;
pub mod hashers;
pub mod login;
pub mod password;
pub mod secret;
pub mod token;

pub use extractor::{AuthUser, IngestCaller};
pub use token::TokenKeys;
