//! The attribute's arguments: `#[server_function(name = "..", inline, fallible, infallible,
//! require = "..", crate = path)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(inline);
    syn::custom_keyword!(fallible);
    syn::custom_keyword!(infallible);
    syn::custom_keyword!(require);
}

/// Every option, each set at most once.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) inline: Option<Span>,
    pub(crate) fallible: Option<(bool, Span)>,
    pub(crate) require: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

/// One `key` or `key = value` of the list.
enum Arg {
    Name(kw::name, LitStr),
    Inline(kw::inline),
    Fallible(kw::fallible),
    Infallible(kw::infallible),
    Require(kw::require, LitStr),
    Crate(Token![crate], Path),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Name(key, input.parse()?))
        } else if lookahead.peek(kw::inline) {
            Ok(Arg::Inline(input.parse()?))
        } else if lookahead.peek(kw::fallible) {
            Ok(Arg::Fallible(input.parse()?))
        } else if lookahead.peek(kw::infallible) {
            Ok(Arg::Infallible(input.parse()?))
        } else if lookahead.peek(kw::require) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Require(key, input.parse()?))
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Crate(key, input.call(Path::parse_mod_style)?))
        } else {
            Err(lookahead.error())
        }
    }
}

impl Args {
    /// Parses the list, reporting every repeated or conflicting key at once.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let list =
            syn::parse::Parser::parse2(Punctuated::<Arg, Token![,]>::parse_terminated, tokens)?;
        let mut args = Args::default();
        let mut errors = Errors::default();
        for arg in list {
            match arg {
                Arg::Name(key, value) => set(&mut args.name, value, key.span, "name", &mut errors),
                Arg::Inline(key) => {
                    set(&mut args.inline, key.span, key.span, "inline", &mut errors)
                }
                Arg::Fallible(key) => set(
                    &mut args.fallible,
                    (true, key.span),
                    key.span,
                    "fallible",
                    &mut errors,
                ),
                Arg::Infallible(key) => set(
                    &mut args.fallible,
                    (false, key.span),
                    key.span,
                    "infallible",
                    &mut errors,
                ),
                Arg::Require(key, value) => {
                    set(&mut args.require, value, key.span, "require", &mut errors)
                }
                Arg::Crate(key, path) => set(&mut args.krate, path, key.span, "crate", &mut errors),
            }
        }
        errors.finish()?;
        Ok(args)
    }
}

/// Records an option, or an error naming it if it was already given. `fallible` and
/// `infallible` share one slot, so giving both is reported like a repeat.
fn set<T>(slot: &mut Option<T>, value: T, span: Span, key: &str, errors: &mut Errors) {
    if slot.is_some() {
        let message = match key {
            "fallible" | "infallible" => {
                "`fallible` and `infallible` may be given once, and not together".to_owned()
            }
            _ => format!("duplicate #[server_function] argument `{key}`"),
        };
        errors.push(syn::Error::new(span, message));
    } else {
        *slot = Some(value);
    }
}

/// Collects errors so that all of them are reported in one compilation.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
