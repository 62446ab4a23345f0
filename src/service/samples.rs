//! Samples (SPEC §3 "Samples"): example conversations admins publish from
//! their own conversations (audited); every signed-in user lists, reads and
//! clones them.

use serde_json::json;

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::conversation::{self as conv_repo, Snapshot};
use crate::db::share::{self, Sample};
use crate::db::Db;

/// What an admin publishes: one of their conversations, with an optional
/// title (the conversation's when blank) and description.
#[derive(Debug)]
pub struct NewSample {
    pub conversation_id: String,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// A page of samples, newest first, before the `before` id.
pub async fn list(db: &Db, before: Option<String>, limit: u32) -> Result<Vec<Sample>> {
    Ok(db
        .run(move |conn| share::samples(conn, before.as_deref(), limit))
        .await?)
}

/// The lengths a sample's title (200) and description (2000) may have.
fn validate(new: &NewSample) -> Result<()> {
    if new
        .title
        .as_deref()
        .is_some_and(|t| t.chars().count() > 200)
    {
        return Err(Error::invalid("title", "must be at most 200 characters"));
    }
    if new
        .description
        .as_deref()
        .is_some_and(|t| t.chars().count() > 2000)
    {
        return Err(Error::invalid(
            "description",
            "must be at most 2000 characters",
        ));
    }
    Ok(())
}

/// Publishes one of the admin's own conversations as a sample, audited.
pub async fn create(db: &Db, actor: Actor, new: NewSample) -> Result<Sample> {
    validate(&new)?;
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "sample.create", |tx| {
            // An admin publishes one of their own conversations.
            let conversation = conv_repo::get(tx, &actor.id, &new.conversation_id)?
                .ok_or_else(|| Error::NotFound("no such conversation".into()))?;
            super::conversations::kept(&conversation, "published as a sample")?;
            let mut snapshot = conv_repo::snapshot(tx, &conversation)?;
            // The system prompt is the admin's own instruction, not part of
            // the example (as for shares): it is not published.
            snapshot.system_prompt = String::new();
            if snapshot.messages.is_empty() {
                return Err(Error::invalid(
                    "conversation_id",
                    "the conversation has no messages yet",
                ));
            }
            let title = new
                .title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .unwrap_or_else(|| snapshot.title.clone());
            snapshot.title = title.clone();
            let description = new.description.unwrap_or_default();
            let sample =
                share::insert_sample(tx, &title, description.trim(), &snapshot, &actor.id)?;
            let audit = Audit::new(
                sample.id.clone(),
                json!({ "title": sample.title, "conversation_id": conversation.id }),
            );
            Ok((sample, audit))
        })
    })
    .await
}

/// A sample with the conversation it shows.
pub async fn get(db: &Db, id: String) -> Result<(Sample, Snapshot)> {
    db.run(move |conn| share::sample(conn, &id))
        .await?
        .ok_or_else(|| Error::NotFound("no such sample".into()))
}

/// What a clone of a sample starts from: its conversation, without any
/// system prompt (samples published before it was left out still hold one).
pub async fn to_clone(db: &Db, id: String) -> Result<Snapshot> {
    let (_, mut snapshot) = get(db, id).await?;
    snapshot.system_prompt = String::new();
    Ok(snapshot)
}

/// Unpublishes a sample, audited.
pub async fn delete(db: &Db, actor: Actor, id: String) -> Result<()> {
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "sample.delete", |tx| {
            let (sample, _) =
                share::sample(tx, &id)?.ok_or_else(|| Error::NotFound("no such sample".into()))?;
            share::delete_sample(tx, &id)?;
            Ok(((), Audit::new(id.clone(), json!({ "title": sample.title }))))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(title: Option<String>, description: Option<String>) -> NewSample {
        NewSample {
            conversation_id: "c".into(),
            title,
            description,
        }
    }

    #[test]
    fn a_sample_title_and_description_have_length_limits() {
        assert!(validate(&new(Some("t".repeat(200)), Some("d".repeat(2000)))).is_ok());
        assert!(validate(&new(None, None)).is_ok());
        for (sample, field) in [
            (new(Some("t".repeat(201)), None), "title"),
            (new(None, Some("d".repeat(2001))), "description"),
        ] {
            let Err(Error::Validation(f)) = validate(&sample) else {
                panic!("{field}: accepted");
            };
            assert!(f.contains_key(field));
        }
    }
}
