//! The 43 territorial forces of England and Wales and British Transport Police,
//! named by the ids of the public police data service (DOMAIN.md, "Forces").

use super::validation::{Errors, FieldRule, Given, Need};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Force {
    pub id: &'static str,
    pub name: &'static str,
}

const fn f(id: &'static str, name: &'static str) -> Force {
    Force { id, name }
}

pub const FORCES: [Force; 44] = [
    f("avon-and-somerset", "Avon and Somerset Constabulary"),
    f("bedfordshire", "Bedfordshire Police"),
    f("cambridgeshire", "Cambridgeshire Constabulary"),
    f("cheshire", "Cheshire Constabulary"),
    f("city-of-london", "City of London Police"),
    f("cleveland", "Cleveland Police"),
    f("cumbria", "Cumbria Constabulary"),
    f("derbyshire", "Derbyshire Constabulary"),
    f("devon-and-cornwall", "Devon & Cornwall Police"),
    f("dorset", "Dorset Police"),
    f("durham", "Durham Constabulary"),
    f("dyfed-powys", "Dyfed-Powys Police"),
    f("essex", "Essex Police"),
    f("gloucestershire", "Gloucestershire Constabulary"),
    f("greater-manchester", "Greater Manchester Police"),
    f("gwent", "Gwent Police"),
    f("hampshire", "Hampshire Constabulary"),
    f("hertfordshire", "Hertfordshire Constabulary"),
    f("humberside", "Humberside Police"),
    f("kent", "Kent Police"),
    f("lancashire", "Lancashire Constabulary"),
    f("leicestershire", "Leicestershire Police"),
    f("lincolnshire", "Lincolnshire Police"),
    f("merseyside", "Merseyside Police"),
    f("metropolitan", "Metropolitan Police Service"),
    f("norfolk", "Norfolk Constabulary"),
    f("north-wales", "North Wales Police"),
    f("north-yorkshire", "North Yorkshire Police"),
    f("northamptonshire", "Northamptonshire Police"),
    f("northumbria", "Northumbria Police"),
    f("nottinghamshire", "Nottinghamshire Police"),
    f("south-wales", "South Wales Police"),
    f("south-yorkshire", "South Yorkshire Police"),
    f("staffordshire", "Staffordshire Police"),
    f("suffolk", "Suffolk Constabulary"),
    f("surrey", "Surrey Police"),
    f("sussex", "Sussex Police"),
    f("thames-valley", "Thames Valley Police"),
    f("warwickshire", "Warwickshire Police"),
    f("west-mercia", "West Mercia Police"),
    f("west-midlands", "West Midlands Police"),
    f("west-yorkshire", "West Yorkshire Police"),
    f("wiltshire", "Wiltshire Police"),
    f("btp", "British Transport Police"),
];

pub fn is_known_force(id: &str) -> bool {
    FORCES.iter().any(|f| f.id == id)
}

pub fn force_name(id: &str) -> Option<&'static str> {
    FORCES.iter().find(|f| f.id == id).map(|f| f.name)
}

/// A force the contract knows.
pub fn known_force(
    field: &str,
    given: Given<String>,
    need: Need,
    errs: &mut Errors,
) -> Option<String> {
    let id = errs.text(field, given, (1, 64), need)?;
    if is_known_force(&id) {
        Some(id)
    } else {
        errs.add(
            field,
            FieldRule::UnknownForce,
            "is not a known force (see GET /api/v1/forces)",
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn forty_four_distinct_forces() {
        let ids: HashSet<_> = FORCES.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), 44);
        assert!(is_known_force("btp"));
        assert!(is_known_force("bedfordshire"));
        assert!(!is_known_force("gotham"));
        assert_eq!(
            force_name("metropolitan"),
            Some("Metropolitan Police Service")
        );
    }
}
