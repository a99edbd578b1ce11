//! Reading the example files: multi-document YAML into `DynamicObject`s, each remembering the file
//! it came from so a bad example is reported with its path.

use std::path::{Path, PathBuf};

use kube::api::DynamicObject;
use kube::core::GroupVersionKind;

use super::error::{Error, Result};

/// One object from an example file, checked to be appliable.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file it came from.
    pub source: PathBuf,
    /// Its `apiVersion` and `kind`, parsed.
    pub gvk: GroupVersionKind,
    /// The object; `metadata.name` is present.
    pub object: DynamicObject,
}

impl Document {
    pub fn kind(&self) -> &str {
        &self.gvk.kind
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or_default()
    }
}

/// Every `.yaml`/`.yml` file under `dir`, recursively, in path order so a seed is deterministic.
pub fn load_dir(dir: &Path) -> Result<Vec<Document>> {
    let mut files = Vec::new();
    collect_yaml_files(dir, &mut files)?;
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
            path: file.clone(),
            source,
        })?;
        documents.extend(parse(&text, &file)?);
    }
    Ok(documents)
}

fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let read_err = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The objects of a multi-document YAML text; `source` names it in errors. The text is read by
/// guardian-core's loader, as `check` and the API server read it. Empty documents (a leading
/// comment block followed by `---`) are skipped; a document without a valid `apiVersion`, a
/// `kind` or a `metadata.name` is an error, since it could not be applied.
pub fn parse(text: &str, source: &Path) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    for document in guardian_core::load::documents(text) {
        let line = document.first_line;
        let value = document.value.map_err(|error| Error::Parse {
            path: source.to_owned(),
            line: manifest_line(&error).unwrap_or(line),
            source: Box::new(error),
        })?;
        let object: DynamicObject =
            serde_json::from_value(value).map_err(|error| Error::Decode {
                path: source.to_owned(),
                line,
                what: "Kubernetes object",
                source: error,
            })?;
        let invalid = |problem: String| Error::Invalid {
            path: source.to_owned(),
            line,
            problem,
        };
        let types = object
            .types
            .as_ref()
            .ok_or_else(|| invalid("has no apiVersion and kind".into()))?;
        if types.kind.is_empty() {
            return Err(invalid("has no kind".into()));
        }
        // kube's parser accepts "a/b/c" and "apps/"; discovery would then fail less clearly.
        let gvk = GroupVersionKind::try_from(types)
            .ok()
            .filter(|gvk| !gvk.version.is_empty() && !gvk.version.contains('/'))
            .ok_or_else(|| invalid(format!("has a bad apiVersion {:?}", types.api_version)))?;
        if object
            .metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        {
            return Err(invalid("has no metadata.name".into()));
        }
        documents.push(Document {
            source: source.to_owned(),
            gvk,
            object,
        });
    }
    Ok(documents)
}

/// The line a loader error points at, when it names one.
pub(super) fn manifest_line(error: &guardian_core::Error) -> Option<usize> {
    match error {
        guardian_core::Error::Manifest { line, .. } => *line,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<Document>> {
        parse(text, Path::new("test.yaml"))
    }

    #[test]
    fn multi_document_yaml_skips_empty_documents() -> Result<()> {
        let text = "# only a comment\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n\
                    apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b, namespace: x}\n---\n";
        let docs = parse_str(text)?;
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].kind(), docs[0].name()), ("Pod", "a"));
        assert_eq!(docs[0].gvk.group, "");
        assert_eq!(docs[1].gvk.group, "apps");
        assert_eq!(docs[1].object.metadata.namespace.as_deref(), Some("x"));
        Ok(())
    }

    #[test]
    fn unappliable_documents_are_errors_naming_file_and_document() {
        let cases = [
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {}\n",
                "test.yaml:1: the document has no metadata.name",
            ),
            ("metadata: {name: a}\n", "test.yaml:1: the document"),
            (
                "---\n---\napiVersion: a/b/c\nkind: X\nmetadata: {name: a}\n",
                // An empty document is skipped; the line is the object's own.
                "test.yaml:3: the document has a bad apiVersion",
            ),
            (
                "apiVersion: apps/\nkind: X\nmetadata: {name: a}\n",
                "bad apiVersion",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: [\n",
                "test.yaml:5: the document is not valid YAML",
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {hostNetwork: true, hostNetwork: false}\n",
                "test.yaml:4: the document is not valid YAML",
            ),
        ];
        for (text, want) in cases {
            match parse_str(text) {
                Err(e) => {
                    let message = e.to_string();
                    assert!(message.starts_with("test.yaml:"), "{message}");
                    assert!(message.contains(want), "{message} lacks {want:?}");
                }
                Ok(docs) => panic!("accepted {text:?}: {docs:?}"),
            }
        }
    }
}
