//! Whole-screen snapshots of the console at 80x24 and 160x48 (text only: colours are asserted
//! on cells below), at a fixed clock, from synthetic clusters.

use guardian_core::crd::Enforcement;
use guardian_core::model::Severity;
use guardian_tui::action::{Action, Command};
use guardian_tui::app::{ObjectText, Request, State, update};
use guardian_tui::config::Paths;
use guardian_tui::testing::{
    at, deployment, epoch, feed, finding, lease, policy, render, state, synced, text, unreachable,
    waived,
};
use guardian_tui::theme::Theme;
use guardian_tui::views::Screen;
use guardian_tui::views::frame::READONLY_BADGE;
use ratatui::style::{Color, Modifier};

/// Two clusters: demo-a live with an operator, demo-b down for 42 s and retrying in 12 s.
fn fleet() -> State {
    let mut a = synced("demo-a");
    a.policies = vec![
        policy("restricted-security", Enforcement::Deny, Some(at(-3))),
        policy("best-practices", Enforcement::Warn, Some(at(-60))),
        policy("team-ownership", Enforcement::Audit, None),
    ];
    a.lease = Some(lease("kube-guardian-7f9c", at(-2)));
    a.evaluations = vec![
        deployment(
            "payments",
            "ledger",
            &["restricted-security"],
            vec![
                finding("restricted-security", "pss-privileged", Severity::Critical),
                finding("restricted-security", "pss-run-as-non-root", Severity::High),
            ],
        ),
        deployment(
            "payments",
            "queue",
            &["best-practices"],
            vec![finding("best-practices", "memory-limits", Severity::Medium)],
        ),
        deployment(
            "shop",
            "web",
            &["restricted-security", "team-ownership"],
            vec![
                waived(
                    finding("restricted-security", "pss-run-as-non-root", Severity::High),
                    "shop/legacy-web",
                ),
                finding("team-ownership", "owner-label", Severity::Low),
            ],
        ),
        deployment("shop", "api", &["best-practices"], vec![]),
    ];
    let mut b = synced("demo-b");
    b.policies = vec![policy(
        "restricted-security",
        Enforcement::Warn,
        Some(epoch()),
    )];
    b.evaluations = vec![deployment(
        "payments",
        "ledger",
        &["restricted-security"],
        vec![finding(
            "restricted-security",
            "pss-privileged",
            Severity::Critical,
        )],
    )];
    let b_down = unreachable(b.clone(), at(18), at(72));
    let mut s = state(vec![a, b], epoch());
    feed(&mut s, 1, b_down);
    update(&mut s, Action::Tick(at(60)));
    s
}

fn cmd(state: &mut State, command: Command) {
    update(state, Action::Command(command));
}

fn snapshot(name: &str, state: &mut State, width: u16, height: u16) -> ratatui::buffer::Buffer {
    let buffer = render(state, width, height, &Theme::plain());
    insta::assert_snapshot!(format!("{name}_{width}x{height}"), text(&buffer));
    buffer
}

#[test]
fn fleet_screen() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut s = fleet();
        let screen = text(&snapshot("fleet", &mut s, w, h));
        assert!(screen.contains("stale 42s · retry in 12s"), "{screen}");
        assert!(screen.contains("Synced"), "{screen}");
        if w >= 120 {
            // Renewed 62 s ago with a 15 s duration: the cluster layer calls it stale.
            assert!(
                screen.contains("kube-guardian-7f9c          stale 1m"),
                "{screen}"
            );
        }
    }
}

#[test]
fn the_fleet_trend_spans_the_whole_history() {
    // 24 scores on demo-a, each a change: 10 workloads, `broken` of them violating, from all
    // to none, up to 7, down to none again. The bars hold the whole history (each the lowest
    // of its share): the newest 8 or 10 points alone would miss the first, lowest score.
    let snapshot_with = |broken: usize| {
        let mut a = synced("demo-a");
        a.evaluations = (0..10)
            .map(|i| {
                let f = finding("restricted-security", "pss-privileged", Severity::High);
                let findings = if i < broken { vec![f] } else { vec![] };
                deployment("shop", &format!("w{i}"), &["restricted-security"], findings)
            })
            .collect();
        a
    };
    let mut s = state(vec![snapshot_with(10)], epoch());
    for broken in (0..10).rev().chain(1..=7).chain((0..6).rev()) {
        feed(&mut s, 0, snapshot_with(broken));
    }
    update(&mut s, Action::Tick(at(60)));
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = text(&snapshot("fleet_trend", &mut s, w, h));
        let row = screen.lines().find(|l| l.contains("demo-a  Synced"));
        let trend: Vec<char> = row
            .and_then(|r| r.split_whitespace().nth(3))
            .unwrap_or_default()
            .chars()
            .collect();
        assert!(trend.len() >= 8, "{screen}");
        // The oldest point (all 10 broken) is the lowest bar, and the perfect score shows.
        assert_eq!(trend.iter().min(), Some(&trend[0]), "{screen}");
        assert_eq!(trend[0], '▃', "{screen}");
        assert!(trend.contains(&'█'), "{screen}");
    }
}

#[test]
fn violations_screen_and_grouped_by_policy() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut s = fleet();
        cmd(&mut s, Command::Show(Screen::Violations));
        snapshot("violations", &mut s, w, h);
        cmd(&mut s, Command::GroupBy);
        cmd(&mut s, Command::GroupBy);
        snapshot("violations_by_policy", &mut s, w, h);
    }
}

const WEB_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.27
        securityContext:
          runAsUser: 0
";

#[test]
fn violations_detail_pane() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut s = fleet();
        cmd(&mut s, Command::Show(Screen::Violations));
        cmd(&mut s, Command::SortName);
        // Deployment/web's waived finding: the detail names the exception.
        for _ in 0..4 {
            cmd(&mut s, Command::Down);
        }
        cmd(&mut s, Command::Select);
        let screen = text(&snapshot("violations_detail_reading", &mut s, w, h));
        assert!(screen.contains("reading the object"), "{screen}");
        let Some(Request::Object { cluster, resource }) = s.requests.last().cloned() else {
            panic!("the detail asks for its object");
        };
        let object = ObjectText {
            cluster,
            resource,
            text: Ok(WEB_YAML.to_owned()),
        };
        update(&mut s, Action::Object(Box::new(object)));
        let screen = text(&snapshot("violations_detail", &mut s, w, h));
        assert!(screen.contains("shop/legacy-web"), "{screen}");
        assert!(screen.contains("securityContext:  ◀"), "{screen}");
    }
}

#[test]
fn help_screen_and_palette() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut s = fleet();
        s.paths = Some(Paths {
            config: "/home/ana/.config/kube-guardian/tui.toml".into(),
            log: "/home/ana/.local/state/kube-guardian/tui.log".into(),
            edits: "/home/ana/.local/state/kube-guardian/edits".into(),
        });
        cmd(&mut s, Command::Help);
        let screen = text(&snapshot("help", &mut s, w, h));
        assert!(screen.contains("tui.log"), "the log path shows: {screen}");
        cmd(&mut s, Command::Palette);
        update(&mut s, Action::Input('v'));
        snapshot("palette", &mut s, w, h);
    }
}

#[test]
fn the_hint_bar_comes_from_the_keymap() {
    let mut s = fleet();
    let buffer = render(&mut s, 160, 48, &Theme::plain());
    let bottom = text(&buffer).lines().last().unwrap_or_default().to_owned();
    for (keys, label) in s.keymap.hints(Screen::Fleet, false) {
        assert!(
            bottom.contains(&format!("<{keys}> {label}")),
            "{keys} {label}: {bottom}"
        );
    }
}

#[test]
fn the_hint_bar_puts_the_screens_own_hints_first_so_80_columns_keep_them() {
    let mut s = fleet();
    cmd(&mut s, Command::Show(Screen::Violations));
    let own: Vec<String> = s
        .keymap
        .active(false)
        .filter(|b| b.screens.contains(&Screen::Violations) && b.hint.is_some())
        .map(|b| format!("{} {}", b.keys[0], b.hint.unwrap_or_default()))
        .collect();
    assert!(!own.is_empty(), "Violations has hints of its own");
    let buffer = render(&mut s, 80, 24, &Theme::plain());
    let bottom = text(&buffer).lines().last().unwrap_or_default().to_owned();
    let first = own[0].split_once(' ').unwrap_or_default();
    assert!(
        bottom.starts_with(&format!(" <{}> {}", first.0, first.1)),
        "{bottom}"
    );
}

/// The cell where `needle` starts.
fn find(buffer: &ratatui::buffer::Buffer, needle: &str) -> (u16, u16) {
    let screen = text(buffer);
    for (y, line) in screen.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            return (
                u16::try_from(x).unwrap_or(u16::MAX),
                u16::try_from(y).unwrap_or(u16::MAX),
            );
        }
    }
    panic!("{needle:?} not on screen:\n{screen}");
}

#[test]
fn severities_and_states_have_colours_and_words() {
    let mut s = fleet();
    cmd(&mut s, Command::Show(Screen::Violations));
    let buffer = render(&mut s, 160, 48, &Theme { color: true });
    let crit = &buffer[find(&buffer, "CRIT")];
    assert_eq!(crit.fg, Color::LightRed);
    assert!(crit.modifier.contains(Modifier::BOLD));
    assert_eq!(buffer[find(&buffer, "MED ")].fg, Color::Yellow);
    assert_eq!(buffer[find(&buffer, "Synced")].fg, Color::Green);
    assert_eq!(buffer[find(&buffer, "Unreachable")].fg, Color::Red);
}

#[test]
fn no_color_keeps_every_word_and_drops_every_colour() {
    let mut s = fleet();
    cmd(&mut s, Command::Show(Screen::Violations));
    let buffer = render(&mut s, 160, 48, &Theme { color: false });
    let screen = text(&buffer);
    for word in [
        "CRIT",
        "HIGH",
        "MED",
        "LOW",
        "Synced",
        "Unreachable",
        "waived",
    ] {
        assert!(screen.contains(word), "{word}: {screen}");
    }
    assert!(
        buffer
            .content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
        "no colour under NO_COLOR"
    );
}

#[test]
fn the_read_only_badge_shows_in_the_header() {
    let mut s = fleet();
    let buffer = render(&mut s, 160, 48, &Theme { color: true });
    assert!(!text(&buffer).contains(READONLY_BADGE.trim()));
    s.readonly = true;
    let buffer = render(&mut s, 160, 48, &Theme { color: true });
    let (x, y) = find(&buffer, READONLY_BADGE.trim());
    assert_eq!(y, 0, "in the header");
    let cell = &buffer[(x, y)];
    assert_eq!((cell.fg, cell.bg), (Color::Black, Color::Yellow));
    let buffer = render(&mut s, 160, 48, &Theme { color: false });
    let (x, y) = find(&buffer, READONLY_BADGE.trim());
    assert!(
        buffer[(x, y)].modifier.contains(Modifier::REVERSED),
        "visible without colour"
    );
}

#[test]
fn the_offending_yaml_line_is_highlighted_in_colour_and_marked() {
    let mut s = fleet();
    cmd(&mut s, Command::Show(Screen::Violations));
    cmd(&mut s, Command::SortName);
    for _ in 0..4 {
        cmd(&mut s, Command::Down);
    }
    cmd(&mut s, Command::Select);
    let Some(Request::Object { cluster, resource }) = s.requests.last().cloned() else {
        panic!("the detail asks for its object");
    };
    let text = Ok(WEB_YAML.to_owned());
    update(
        &mut s,
        Action::Object(Box::new(ObjectText {
            cluster,
            resource,
            text,
        })),
    );
    let buffer = render(&mut s, 160, 48, &Theme { color: true });
    let marked = &buffer[find(&buffer, "securityContext:  ◀")];
    assert_eq!(marked.fg, Color::LightRed);
    let plain = &buffer[find(&buffer, "image: nginx")];
    assert_eq!(plain.fg, Color::Reset);
}
