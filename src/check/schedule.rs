//! Schedules: the sequence of moves of one interleaving, written as comma-separated task names
//! (`app,app,kernel,bio:f[0],nic`). A `maybe` statement that does not happen is `NAME(skip)`.
//! Task names are thread names, or the queued work and who queued it (`bio:f[0]`,
//! `dio-read:app.2`, `bio_dirty_work:app.2`), so a schedule reads without the model at hand.

/// Joins move names into a schedule string.
pub fn format(names: &[String]) -> String {
    names.join(",")
}

/// Splits a schedule string into move names; an empty string is the empty schedule.
pub fn parse(s: &str) -> Vec<String> {
    s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let names = vec!["app".to_string(), "bio:f[0]".to_string(), "kernel(skip)".to_string()];
        assert_eq!(super::parse(&super::format(&names)), names);
        assert!(super::parse("").is_empty());
    }
}
