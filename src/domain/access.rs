//! Who may read what (API.md, "Roles and scope").

/// The closures a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One force's only.
    Force(String),
    /// Every force (a national auditor).
    All,
}

/// A force the caller may not see was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfScope;

impl Scope {
    pub fn allows(&self, force_id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Force(f) => f == force_id,
        }
    }

    /// The force filter to apply, given the one the caller asked for: `Err` when
    /// it asked for a force outside its scope (nothing to see).
    pub fn narrow(&self, asked: Option<&str>) -> Result<Option<String>, OutOfScope> {
        match (self, asked) {
            (Scope::All, a) => Ok(a.map(str::to_owned)),
            (Scope::Force(f), None) => Ok(Some(f.clone())),
            (Scope::Force(f), Some(a)) if a == f => Ok(Some(f.clone())),
            (Scope::Force(_), Some(_)) => Err(OutOfScope),
        }
    }
}

/// Which closures a caller of `force_id` reads, once [`super::authorize`] lets it
/// read closures at all (only a national auditor reads them without a force).
pub fn closure_scope(force_id: Option<&str>) -> Scope {
    force_id.map_or(Scope::All, |f| Scope::Force(f.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(closure_scope(None), Scope::All);
        assert_eq!(closure_scope(Some("kent")), Scope::Force("kent".into()));
        let kent = Scope::Force("kent".into());
        assert_eq!(kent.narrow(None), Ok(Some("kent".into())));
        assert_eq!(kent.narrow(Some("essex")), Err(OutOfScope));
        assert_eq!(Scope::All.narrow(Some("essex")), Ok(Some("essex".into())));
        assert!(kent.allows("kent") && !kent.allows("essex"));
    }
}
