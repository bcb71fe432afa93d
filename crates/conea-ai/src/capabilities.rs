//! What each provider's wire format can carry of a chat request. A request parameter a
//! provider cannot honour is never dropped on the way: the router skips that provider's
//! targets (the reason in the attempt), and when no target can honour it the request is
//! refused naming the parameter. What each wire carries is in `docs/api.md`
//! ("Parameters by provider"); the translations themselves are in the provider modules.
//!
//! `user` is carried everywhere: OpenAI `user`, Anthropic `metadata.user_id`; Cohere, Gemini
//! and Ollama have no such field, and it changes no output (it names the end user for the
//! provider's abuse monitoring), so it is accepted there and not sent.

use crate::providers::ProviderKind;
use crate::types::{ChatRequest, ImageSource};

/// Why a provider cannot take a request: the parameter (as the caller spelled it, e.g.
/// `response_format`, `messages[1].content[0]`) and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub param: String,
    pub reason: String,
}

impl Unsupported {
    fn new(param: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            reason: reason.into(),
        }
    }
}

/// The image media types Anthropic accepts inline.
const ANTHROPIC_MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// `Ok` when `kind`'s wire carries everything `req` asks for, else the first parameter it
/// cannot carry. Cheap for the common request (no format, seed or images): a few field
/// checks, no allocation.
pub fn check(kind: ProviderKind, req: &ChatRequest) -> Result<(), Unsupported> {
    let name = kind.name();
    if kind == ProviderKind::Anthropic {
        if req.response_format.is_some() {
            return Err(Unsupported::new(
                "response_format",
                "anthropic has no JSON mode or response schema",
            ));
        }
        if req.seed.is_some() {
            return Err(Unsupported::new("seed", "anthropic takes no sampling seed"));
        }
    }
    for (i, m) in req.messages.iter().enumerate() {
        for (j, part) in m.parts.iter().enumerate() {
            let crate::types::Part::Image(image) = part else {
                continue;
            };
            let param = || format!("messages[{i}].content[{j}]");
            if let Some(d) = image.detail.as_deref() {
                let carries_detail = matches!(kind, ProviderKind::OpenAi | ProviderKind::Cohere);
                if d != "auto" && !carries_detail {
                    return Err(Unsupported::new(
                        format!("{}.image_url.detail", param()),
                        format!("{name} has no image detail setting (only `auto` is accepted)"),
                    ));
                }
            }
            match (&image.source, kind) {
                (ImageSource::Base64 { media_type, .. }, ProviderKind::Anthropic)
                    if !ANTHROPIC_MEDIA_TYPES.contains(&media_type.as_str()) =>
                {
                    return Err(Unsupported::new(
                        param(),
                        format!(
                            "anthropic takes image/jpeg, image/png, image/gif and image/webp, not {media_type}"
                        ),
                    ));
                }
                (ImageSource::Url { url }, ProviderKind::Gemini)
                    if ImageSource::url_media_type(url).is_none() =>
                {
                    return Err(Unsupported::new(
                        param(),
                        "gemini needs an image URL's media type, and this URL's file extension names none (send a data: URL)",
                    ));
                }
                (ImageSource::Url { .. }, ProviderKind::Ollama) => {
                    return Err(Unsupported::new(
                        param(),
                        "ollama takes images only inline (send a data: URL)",
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Image, Message, Part, ResponseFormat};

    fn with_image(url: &str, detail: Option<&str>) -> ChatRequest {
        let image = Image {
            source: ImageSource::parse(url).unwrap(),
            detail: detail.map(str::to_owned),
        };
        ChatRequest::new(
            "m",
            vec![
                Message::system("s"),
                Message::user_parts(vec![Part::Text("what is it?".into()), Part::Image(image)]),
            ],
        )
    }

    #[test]
    fn anthropic_refuses_json_mode_and_seed_others_take_them() {
        let mut req = ChatRequest::new("m", vec![Message::user("hi")]);
        req.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(
            check(ProviderKind::Anthropic, &req).unwrap_err().param,
            "response_format"
        );
        req.response_format = None;
        req.seed = Some(7);
        assert_eq!(
            check(ProviderKind::Anthropic, &req).unwrap_err().param,
            "seed"
        );
        for k in [
            ProviderKind::OpenAi,
            ProviderKind::Cohere,
            ProviderKind::Gemini,
            ProviderKind::Ollama,
        ] {
            assert!(check(k, &req).is_ok(), "{k:?}");
        }
    }

    #[test]
    fn image_urls_name_the_part_each_provider_cannot_take() {
        let req = with_image("https://example.com/cat", None);
        assert_eq!(
            check(ProviderKind::Gemini, &req).unwrap_err().param,
            "messages[1].content[1]"
        );
        assert!(check(ProviderKind::Ollama, &req).is_err());
        assert!(check(ProviderKind::Anthropic, &req).is_ok());
        assert!(check(
            ProviderKind::Gemini,
            &with_image("https://example.com/cat.PNG?x=1", None)
        )
        .is_ok());
        let svg = with_image("data:image/svg+xml;base64,PHN2Zz4=", None);
        assert!(check(ProviderKind::Anthropic, &svg).is_err());
        assert!(check(ProviderKind::Ollama, &svg).is_ok());
        let high = with_image("data:image/png;base64,iVBORw0KGgo=", Some("high"));
        assert_eq!(
            check(ProviderKind::Gemini, &high).unwrap_err().param,
            "messages[1].content[1].image_url.detail"
        );
        assert!(check(ProviderKind::OpenAi, &high).is_ok());
        assert!(check(
            ProviderKind::Gemini,
            &with_image("data:image/png;base64,iVBORw0KGgo=", Some("auto"))
        )
        .is_ok());
    }

    #[test]
    fn image_sources_parse_data_and_http_urls_only() {
        assert_eq!(
            ImageSource::parse("data:image/png;base64,AAAA"),
            Ok(ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "AAAA".into()
            })
        );
        assert!(ImageSource::parse("data:text/plain;base64,AAAA").is_err());
        assert!(ImageSource::parse("data:image/png,AAAA").is_err());
        assert!(ImageSource::parse("file:///etc/passwd").is_err());
        assert_eq!(
            ImageSource::parse("data:image/png;base64,AAAA")
                .unwrap()
                .as_url(),
            "data:image/png;base64,AAAA"
        );
    }
}
