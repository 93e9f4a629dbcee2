//! The TOML config: plain serde structs, then a validated [`Config`]; every problem reported at
//! once as `file:line: what is wrong — what to do` (DESIGN §1, §9).
