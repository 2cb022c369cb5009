//! The options' names: the list the CLI, Python and the README table are
//! made from, and the closest valid name for a typo or a matplotlib word.

use super::{FigureOptions, PanelOptions};

/// Every option's name (the Python keyword; the CLI flag is `--` and the
/// name with `-` for `_`), with its help text and value name, in the
/// order of the CLI's help.
pub fn option_names() -> Vec<OptionInfo> {
    use clap::Args;
    let mut cmd = FigureOptions::augment_args(clap::Command::new("options").disable_help_flag(true));
    cmd.build();
    cmd.get_arguments()
        .map(|a| OptionInfo {
            name: a.get_id().as_str().to_string(),
            flag: format!("--{}", a.get_long().unwrap_or_default()),
            value: a
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .filter(|_| a.get_num_args().is_some_and(|n| n.takes_values())),
            help: a.get_help().map(|h| h.to_string()).unwrap_or_default(),
        })
        .collect()
}

/// The names of the per-panel options ([`PanelOptions`]: the keys of a
/// TOML `[[panel]]` besides `input`, `title`, `x` and `y`).
pub fn panel_option_names() -> Vec<String> {
    use clap::Args;
    let cmd = PanelOptions::augment_args(clap::Command::new("panel"));
    cmd.get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .collect()
}

/// One option of [`FigureOptions`], as [`option_names`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionInfo {
    /// The field, Python keyword and TOML key (`x_coords`).
    pub name: String,
    /// The CLI flag (`--x-coords`).
    pub flag: String,
    /// The CLI value name (`FILE|LIST`), `None` for a switch.
    pub value: Option<String>,
    /// What it does.
    pub help: String,
}

/// Other names accepted for an option (serde aliases).
pub const ALIASES: &[(&str, &str)] = &[("colorbar_label", "cbar_label")];

/// Names people bring from matplotlib and seaborn, and the option that
/// does that here (only used to suggest a name, never accepted).
pub const SYNONYMS: &[(&str, &str)] = &[
    ("colormap", "cmap"),
    ("figsize", "size"),
    ("dpi", "scale"),
    ("aggregate", "agg"),
    ("cbar", "colorbar"),
    ("fmt", "annotate"),
    ("annot", "annotate"),
    ("xticks", "xticklabels"),
    ("yticks", "yticklabels"),
    ("center", "vcenter"),
    ("suptitle", "title"),
    ("linewidth", "line_width"),
    ("lw", "line_width"),
    ("color", "colors"),
];

/// The valid name closest to `unknown` among `known`, when one is close
/// enough to be a likely typo (`cmapp` -> `cmap`, `xlable` -> `xlabel`)
/// or is matplotlib's or seaborn's word for it (`colormap` -> `cmap`).
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let u = unknown.to_ascii_lowercase();
    let known: Vec<&'a str> = known.into_iter().collect();
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == u)
        && let Some(k) = known.iter().find(|k| *k == to)
    {
        return Some(k);
    }
    known
        .into_iter()
        .map(|k| {
            let d = strsim::damerau_levenshtein(&u, k);
            // A prefix or a contained word counts as close too (`color` -> `colorbar`).
            let contained = k.contains(u.as_str()) || u.contains(k);
            (if contained { d.min(2) } else { d }, k)
        })
        .filter(|&(d, k)| d <= 2.max(k.len() / 3))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The names a keyword dict or a figure-level table may use: every
/// option's name and its aliases.
pub fn accepted_names() -> Vec<String> {
    let mut names: Vec<String> = option_names().into_iter().map(|o| o.name).collect();
    names.extend(ALIASES.iter().map(|(a, _)| a.to_string()));
    names
}

/// `unknown option 'cmapp' (did you mean 'cmap'?)`, for a name not in
/// `known`; `what` says what kind of name it is (`keyword argument`).
pub fn unknown_message<'a>(what: &str, unknown: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match closest(unknown, known) {
        Some(k) => format!("unknown {what} '{unknown}' (did you mean '{k}'?)"),
        None => format!("unknown {what} '{unknown}'"),
    }
}
