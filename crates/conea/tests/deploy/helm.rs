//! A renderer for the subset of Helm's template language the chart uses, so the tests can
//! check the objects `helm install conea ./deploy/helm/conea` creates (no Helm binary can be
//! installed from this machine's registries).
//!
//! Go template syntax: `{{ }}` actions with `{{-`/`-}}` trimming and `/* */` comments;
//! `if`/`else`/`end`, `with`, `range $k, $v := …`, `define`; pipelines with `|`, fields
//! (`.Values.a.b`, `$`, `$var.field`), string and number literals, parenthesised pipelines.
//! Functions: Helm's `include`, `required`, `toYaml`, and Sprig's `default`, `quote`,
//! `nindent`, `indent`, `printf` (`%s`), `not`. Anything else is an error, so a template
//! that uses more fails here instead of being guessed at.

use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Output(String),
    If(String, Vec<Node>, Vec<Node>),
    With(String, Vec<Node>),
    Range(Vec<String>, String, Vec<Node>),
}

enum Token {
    Text(String),
    Action(String),
}

fn lex(src: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        if trim_next {
            text = text.trim_start().to_owned();
        }
        let after = &rest[start + 2..];
        let trim_before = after.starts_with('-') && after[1..].starts_with(char::is_whitespace);
        if trim_before {
            text = text.trim_end().to_owned();
        }
        tokens.push(Token::Text(text));
        let end = after.find("}}").ok_or("unclosed {{")?;
        let mut inner = &after[..end];
        if trim_before {
            inner = &inner[1..];
        }
        trim_next = inner.ends_with('-') && inner[..inner.len() - 1].ends_with(char::is_whitespace);
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            tokens.push(Token::Action(inner.to_owned()));
        }
        rest = &after[end + 2..];
    }
    let mut text = rest.to_owned();
    if trim_next {
        text = text.trim_start().to_owned();
    }
    tokens.push(Token::Text(text));
    Ok(tokens)
}

/// Parses until `end` (or `else` when allowed); returns the nodes and what stopped it.
fn parse(
    tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
    defines: &mut HashMap<String, Vec<Node>>,
) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            Token::Text(t) => nodes.push(Node::Text(t)),
            Token::Action(a) => {
                let (word, rest) = a.split_once(' ').unwrap_or((a.as_str(), ""));
                let rest = rest.trim().to_owned();
                match word {
                    "end" | "else" => return Ok((nodes, Some(word.to_owned()))),
                    "if" => {
                        let (then, stop) = parse(tokens, defines)?;
                        let otherwise = if stop.as_deref() == Some("else") {
                            parse(tokens, defines)?.0
                        } else {
                            Vec::new()
                        };
                        nodes.push(Node::If(rest, then, otherwise));
                    }
                    "with" => nodes.push(Node::With(rest, parse(tokens, defines)?.0)),
                    "range" => {
                        let (vars, pipeline) = match rest.split_once(":=") {
                            Some((v, p)) => (
                                v.split(',').map(|s| s.trim().to_owned()).collect(),
                                p.trim().to_owned(),
                            ),
                            None => (Vec::new(), rest),
                        };
                        nodes.push(Node::Range(vars, pipeline, parse(tokens, defines)?.0));
                    }
                    "define" => {
                        let name = rest.trim_matches('"').to_owned();
                        let body = parse(tokens, defines)?.0;
                        defines.insert(name, body);
                    }
                    _ => nodes.push(Node::Output(a)),
                }
            }
        }
    }
    Ok((nodes, None))
}

pub struct Chart {
    defines: HashMap<String, Vec<Node>>,
    templates: Vec<(String, Vec<Node>)>,
}

struct Scope<'a> {
    root: &'a Value,
    dot: Value,
    vars: HashMap<String, Value>,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn text(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => v.to_string(),
        _ => return Err(format!("cannot print {v} (use toYaml)")),
    })
}

fn field(mut v: Value, path: &str) -> Value {
    for part in path.split('.').filter(|p| !p.is_empty()) {
        v = v.get(part).cloned().unwrap_or(Value::Null);
    }
    v
}

/// Splits on a separator outside string literals and parentheses.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let (mut parts, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0, false);
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ => {}
        }
        if c == sep && !quoted && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

impl Chart {
    pub fn load(dir: &std::path::Path) -> Result<Self, String> {
        let mut defines = HashMap::new();
        let mut templates = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir.join("templates"))
            .map_err(|e| e.to_string())?
            .map(|e| e.map(|e| e.path()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for path in entries {
            let src = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let mut tokens = lex(&src)?.into_iter().peekable();
            let (nodes, stop) = parse(&mut tokens, &mut defines)?;
            if let Some(stop) = stop {
                return Err(format!("{}: unexpected {stop}", path.display()));
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.starts_with('_') {
                templates.push((name.to_owned(), nodes));
            }
        }
        Ok(Self { defines, templates })
    }

    /// Every template rendered with `context` ({Values, Release, Chart}), as
    /// `(template file, rendered text)`.
    pub fn render(&self, context: &Value) -> Result<Vec<(String, String)>, String> {
        self.templates
            .iter()
            .map(|(name, nodes)| {
                let mut scope = Scope {
                    root: context,
                    dot: context.clone(),
                    vars: HashMap::new(),
                };
                self.run(nodes, &mut scope)
                    .map(|out| (name.clone(), out))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .collect()
    }

    fn run(&self, nodes: &[Node], scope: &mut Scope) -> Result<String, String> {
        let mut out = String::new();
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Output(p) => out.push_str(&text(&self.pipeline(p, scope)?)?),
                Node::If(p, then, otherwise) => {
                    let branch = if truthy(&self.pipeline(p, scope)?) {
                        then
                    } else {
                        otherwise
                    };
                    out.push_str(&self.run(branch, scope)?);
                }
                Node::With(p, body) => {
                    let v = self.pipeline(p, scope)?;
                    if truthy(&v) {
                        let saved = std::mem::replace(&mut scope.dot, v);
                        out.push_str(&self.run(body, scope)?);
                        scope.dot = saved;
                    }
                }
                Node::Range(vars, p, body) => {
                    let items: Vec<(Value, Value)> = match self.pipeline(p, scope)? {
                        Value::Object(m) => {
                            let mut keys: Vec<_> = m.into_iter().collect();
                            keys.sort_by(|a, b| a.0.cmp(&b.0));
                            keys.into_iter()
                                .map(|(k, v)| (Value::String(k), v))
                                .collect()
                        }
                        Value::Array(a) => a
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (Value::from(i), v))
                            .collect(),
                        Value::Null => Vec::new(),
                        other => return Err(format!("cannot range over {other}")),
                    };
                    for (k, v) in items {
                        match vars.as_slice() {
                            [key, value] => {
                                scope.vars.insert(key.clone(), k);
                                scope.vars.insert(value.clone(), v.clone());
                            }
                            [value] => {
                                scope.vars.insert(value.clone(), v.clone());
                            }
                            _ => {}
                        }
                        let saved = std::mem::replace(&mut scope.dot, v);
                        out.push_str(&self.run(body, scope)?);
                        scope.dot = saved;
                    }
                }
            }
        }
        Ok(out)
    }

    fn pipeline(&self, src: &str, scope: &mut Scope) -> Result<Value, String> {
        let mut piped: Option<Value> = None;
        for command in split_top(src, '|') {
            let mut args = split_top(&command, ' ');
            if args.is_empty() {
                return Err(format!("empty command in {src:?}"));
            }
            let head = args.remove(0);
            let is_function = head.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
            let value = if is_function {
                let mut values = args
                    .iter()
                    .map(|a| self.operand(a, scope))
                    .collect::<Result<Vec<_>, _>>()?;
                values.extend(piped.take());
                self.call(&head, values, scope)?
            } else {
                if !args.is_empty() || piped.is_some() {
                    return Err(format!("{head} is not a function in {src:?}"));
                }
                self.operand(&head, scope)?
            };
            piped = Some(value);
        }
        piped.ok_or_else(|| format!("empty pipeline {src:?}"))
    }

    fn operand(&self, a: &str, scope: &mut Scope) -> Result<Value, String> {
        if let Some(inner) = a.strip_prefix('(').and_then(|a| a.strip_suffix(')')) {
            return self.pipeline(inner, scope);
        }
        if let Some(s) = a.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
            return Ok(Value::String(s.replace("\\\"", "\"")));
        }
        if let Ok(n) = a.parse::<i64>() {
            return Ok(Value::from(n));
        }
        if a == "." {
            return Ok(scope.dot.clone());
        }
        if let Some(path) = a.strip_prefix('.') {
            return Ok(field(scope.dot.clone(), path));
        }
        if let Some(var) = a.strip_prefix('$') {
            let (name, path) = var.split_once('.').unwrap_or((var, ""));
            let base = if name.is_empty() {
                scope.root.clone()
            } else {
                scope
                    .vars
                    .get(&format!("${name}"))
                    .cloned()
                    .ok_or_else(|| format!("undefined variable ${name}"))?
            };
            return Ok(field(base, path));
        }
        self.call(a, Vec::new(), scope)
    }

    fn call(&self, name: &str, args: Vec<Value>, scope: &mut Scope) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        let count = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("{name} takes {n} arguments, got {}", args.len()))
            }
        };
        Ok(match name {
            "include" => {
                count(2)?;
                let template = text(&arg(0))?;
                let body = self
                    .defines
                    .get(&template)
                    .ok_or_else(|| format!("no template {template:?}"))?;
                let mut inner = Scope {
                    root: scope.root,
                    dot: arg(1),
                    vars: HashMap::new(),
                };
                Value::String(self.run(body, &mut inner)?)
            }
            "required" => {
                count(2)?;
                if !truthy(&arg(1)) {
                    return Err(text(&arg(0))?);
                }
                arg(1)
            }
            "default" => {
                count(2)?;
                if truthy(&arg(1)) {
                    arg(1)
                } else {
                    arg(0)
                }
            }
            "quote" => {
                count(1)?;
                Value::String(format!("{:?}", text(&arg(0))?))
            }
            "not" => {
                count(1)?;
                Value::Bool(!truthy(&arg(0)))
            }
            "toYaml" => {
                count(1)?;
                let yaml = yaml_serde::to_string(&arg(0)).map_err(|e| e.to_string())?;
                Value::String(yaml.trim_end().to_owned())
            }
            "indent" | "nindent" => {
                count(2)?;
                let n = arg(0).as_u64().ok_or("indent width")? as usize;
                let pad = " ".repeat(n);
                let body = text(&arg(1))?
                    .lines()
                    .map(|l| format!("{pad}{l}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                Value::String(if name == "nindent" {
                    format!("\n{body}")
                } else {
                    body
                })
            }
            "printf" => {
                let format = text(&arg(0))?;
                let mut out = String::new();
                let mut values = args.iter().skip(1);
                let mut parts = format.split("%s");
                out.push_str(parts.next().unwrap_or(""));
                for part in parts {
                    out.push_str(&text(values.next().ok_or("printf: too few arguments")?)?);
                    out.push_str(part);
                }
                Value::String(out)
            }
            other => return Err(format!("function {other:?} is not supported here")),
        })
    }
}

/// The context `helm install RELEASE CHART -n NAMESPACE` gives the templates.
pub fn context(chart_yaml: &Value, values: Value, release: &str, namespace: &str) -> Value {
    let mut chart = Map::new();
    chart.insert("Name".into(), chart_yaml["name"].clone());
    chart.insert("AppVersion".into(), chart_yaml["appVersion"].clone());
    chart.insert("Version".into(), chart_yaml["version"].clone());
    serde_json::json!({
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": chart,
    })
}

/// Deep-merges `overrides` into `values` (as `helm install -f` or `--set` do).
pub fn merge(values: &mut Value, overrides: &Value) {
    match (values, overrides) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                merge(base.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}
