//! Reads the annotated function into a [`ServerFn`], checking every rule on the way and
//! reporting all violations at once, each on the user's token.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type};

use crate::attr::{Args, Errors};

/// A function the attribute accepted.
pub(crate) struct ServerFn {
    pub(crate) item: ItemFn,
    /// The name it is registered and called by.
    pub(crate) name: String,
    pub(crate) params: Vec<Param>,
    pub(crate) is_async: bool,
    pub(crate) inline: bool,
    pub(crate) returns: Returns,
    pub(crate) require: Option<String>,
}

pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// Marked `#[context]`: read from the call's context, never sent as an argument.
    pub(crate) context: Option<FromContext>,
}

/// How a `#[context]` parameter is read.
pub(crate) enum FromContext {
    /// `T`: the attached `T` (or the whole `Context`), else the call fails.
    Required,
    /// `Option<T>`: the attached `T`, if there is one.
    Optional(Box<Type>),
    /// `Progress<P>`: reports `P` values to the caller.
    Progress(Box<Type>),
}

impl ServerFn {
    /// The parameters a caller sends: all but the `#[context]` ones.
    pub(crate) fn wire_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|param| param.context.is_none())
    }

    /// The `#[context]` parameters.
    pub(crate) fn context_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|param| param.context.is_some())
    }

    /// Whether it takes a `#[context] Progress<P>`.
    pub(crate) fn reports_progress(&self) -> bool {
        self.progress_type().is_some()
    }

    /// The `P` of its `#[context] Progress<P>`, if it takes one.
    pub(crate) fn progress_type(&self) -> Option<&Type> {
        self.params.iter().find_map(|param| match &param.context {
            Some(FromContext::Progress(reported)) => Some(&**reported),
            _ => None,
        })
    }
}

/// Whether `attr` is `#[context]` (with or without arguments: those are an error).
pub(crate) fn is_context_attr(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("context")
}

/// `item` without the `#[context]` markers on its parameters, which only this macro reads
/// (rustc would report them as unknown attributes).
pub(crate) fn strip_context_attrs(item: &mut ItemFn) {
    for input in &mut item.sig.inputs {
        if let FnArg::Typed(typed) = input {
            typed.attrs.retain(|attr| !is_context_attr(attr));
        }
    }
}

pub(crate) enum Returns {
    /// `-> ()` or nothing.
    Unit,
    /// Any other type: the value of the call.
    Value(Box<Type>),
    /// A `Result` (or, with `fallible`, anything that is one): `ok` is the call's value, when
    /// it can be read from the type as written (`None` for an alias the macro cannot see into).
    Fallible {
        ty: Box<Type>,
        ok: Option<Box<Type>>,
    },
}

impl ServerFn {
    pub(crate) fn read(item: ItemFn, args: &Args) -> syn::Result<ServerFn> {
        // A method reports this one error and nothing else: the rest would only confuse.
        if let Some(error) = method_error(&item) {
            return Err(error);
        }
        let mut errors = Errors::default();
        let sig = &item.sig;

        if let syn::Safety::Unsafe(unsafety) = &sig.safety {
            errors.push(syn::Error::new(
                unsafety.span,
                "a server function cannot be `unsafe`: calling it by name would bypass the `unsafe` block its callers need",
            ));
        }
        if let Some(param) = sig.generics.params.first() {
            errors.push(syn::Error::new(
                param.span(),
                "a server function cannot be generic: calls by name need one concrete signature",
            ));
        }
        if let Some(clause) = &sig.generics.where_clause {
            errors.push(syn::Error::new(
                clause.span(),
                "a server function cannot have a `where` clause",
            ));
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(syn::Error::new(
                variadic.span(),
                "a server function cannot be variadic",
            ));
        }
        if let Some(abi) = &sig.abi {
            errors.push(syn::Error::new(
                abi.span(),
                "a server function must use the Rust ABI",
            ));
        }

        let params = sig
            .inputs
            .iter()
            .filter_map(|input| read_param(input, &mut errors))
            .collect();

        let is_async = sig.asyncness.is_some();
        let inline = match (args.inline, is_async) {
            (Some(span), true) => {
                errors.push(syn::Error::new(
                    span,
                    "`inline` is for sync functions: an `async fn` already runs on the async workers",
                ));
                false
            }
            (inline, _) => inline.is_some(),
        };

        let returns = read_returns(&sig.output, args, &mut errors);

        let name = match &args.name {
            Some(lit) => {
                let name = lit.value();
                if let Err(message) = check_name(&name) {
                    errors.push(syn::Error::new(lit.span(), message));
                }
                name
            }
            None => sig.ident.to_string().trim_start_matches("r#").to_owned(),
        };

        errors.finish()?;
        let mut item = item;
        strip_context_attrs(&mut item);
        Ok(ServerFn {
            name,
            params,
            is_async,
            inline,
            returns,
            require: args.require.as_ref().map(|lit| lit.value()),
            item,
        })
    }
}

/// The error for an attribute placed on a method or an associated function, when the signature
/// shows it: a `self` receiver, or `Self` in a type. (An attribute cannot see the `impl` block it
/// is in, so an associated function that shows neither cannot be told from a free one.)
fn method_error(item: &ItemFn) -> Option<syn::Error> {
    let sig = &item.sig;
    let span = match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => receiver.span(),
        _ => mentions_self_type(sig.to_token_stream())?,
    };
    let name = sig.ident.to_string();
    let params: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(format!(
                "{}: {}",
                pat_text(&typed.pat),
                display_type(&typed.ty)
            )),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let args: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(pat_text(&typed.pat)),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let returns = match &sig.output {
        ReturnType::Default => String::new(),
        ReturnType::Type(_, ty) => format!(" -> {}", display_type(ty)),
    };
    let asyncness = if sig.asyncness.is_some() {
        "async "
    } else {
        ""
    };
    let dot_await = if sig.asyncness.is_some() {
        ".await"
    } else {
        ""
    };
    let (target, separator) = match sig.inputs.first() {
        Some(FnArg::Receiver(_)) => ("your_value", "."),
        _ => ("YourType", "::"),
    };
    // The free function is outside the `impl`: `Self` means nothing there.
    let unself = |text: String| {
        text.split_inclusive(|c: char| !c.is_alphanumeric() && c != '_')
            .map(|word| match word.strip_prefix("Self") {
                Some(rest) if rest.len() <= 1 && !rest.starts_with('_') => {
                    format!("YourType{rest}")
                }
                _ => word.to_owned(),
            })
            .collect::<String>()
    };
    let params: Vec<String> = params.into_iter().map(unself).collect();
    let returns = unself(returns);
    Some(syn::Error::new(
        span,
        format!(
            "#[server_function] works on free functions, not on methods or associated functions: \
             an attribute cannot see its `impl` block, and a call by name needs a plain function. \
             Move the attribute to a free function that calls this one, and pass any state it \
             needs as arguments or reach it from a static, e.g.\n\n    \
             #[server_function]\n    {asyncness}fn {name}({params}){returns} {{\n        \
             {target}{separator}{name}({args}){dot_await}\n    }}\n",
            params = params.join(", "),
            args = args.join(", "),
        ),
    ))
}

fn pat_text(pat: &Pat) -> String {
    pat.to_token_stream().to_string().replace(' ', "")
}

/// The span of the first `Self` in `tokens`.
fn mentions_self_type(tokens: proc_macro2::TokenStream) -> Option<Span> {
    tokens.into_iter().find_map(|token| match token {
        proc_macro2::TokenTree::Ident(ident) if ident == "Self" => Some(ident.span()),
        proc_macro2::TokenTree::Group(group) => mentions_self_type(group.stream()),
        _ => None,
    })
}

fn read_param(input: &FnArg, errors: &mut Errors) -> Option<Param> {
    let FnArg::Typed(typed) = input else {
        // Receivers were refused before, in `method_error`.
        return None;
    };
    let ident = match &*typed.pat {
        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
        other => {
            errors.push(syn::Error::new(
                other.span(),
                "server function parameters must be plain identifiers (`name: Type`): calls by keyword look them up by name",
            ));
            return None;
        }
    };
    let mut context = None;
    for attr in typed.attrs.iter().filter(|attr| is_context_attr(attr)) {
        if let Err(error) = attr.meta.require_path_only() {
            errors.push(syn::Error::new(
                error.span(),
                "`#[context]` takes no arguments: the parameter's type says what it reads (`T`, `Option<T>` or `Context`)",
            ));
        }
        if context.is_some() {
            errors.push(syn::Error::new(attr.span(), "`#[context]` is given twice"));
        }
        context = Some(match (option_inner(&typed.ty), progress_inner(&typed.ty)) {
            (Some(inner), _) => FromContext::Optional(Box::new(inner)),
            (None, Some(reported)) => FromContext::Progress(Box::new(reported)),
            (None, None) => FromContext::Required,
        });
    }
    if let Some(message) = unsupported_type(&typed.ty) {
        let message = match context {
            Some(_) => message
                .replace(
                    "arguments by name are decoded into fresh values",
                    "a `#[context]` value is a copy of what the call holds",
                )
                .replace(
                    "calls by name need one concrete type",
                    "a `#[context]` parameter reads one concrete type",
                ),
            None => message,
        };
        errors.push(syn::Error::new(typed.ty.span(), message));
        return None;
    }
    Some(Param {
        ident,
        ty: (*typed.ty).clone(),
        context,
    })
}

/// Why a parameter type cannot cross a call by name, if it cannot.
fn unsupported_type(ty: &Type) -> Option<String> {
    match ty {
        Type::Reference(reference) => {
            let owned = match &*reference.elem {
                Type::Path(path) if path.path.is_ident("str") => "String".to_owned(),
                Type::Slice(slice) => format!("Vec<{}>", type_text(&slice.elem)),
                Type::Path(path) if path.path.is_ident("Path") => "PathBuf".to_owned(),
                other => type_text(other),
            };
            Some(format!(
                "server function parameters must be owned, because arguments by name are decoded into fresh values: use `{owned}` instead of a reference"
            ))
        }
        Type::ImplTrait(_) => Some(
            "server function parameters cannot be `impl Trait`: calls by name need one concrete type".to_owned(),
        ),
        Type::Paren(inner) => unsupported_type(&inner.elem),
        Type::Group(inner) => unsupported_type(&inner.elem),
        _ => None,
    }
}

fn type_text(ty: &Type) -> String {
    quote::quote!(#ty).to_string().replace(' ', "")
}

fn read_returns(output: &ReturnType, args: &Args, errors: &mut Errors) -> Returns {
    let ty = match output {
        ReturnType::Default => {
            if let Some((true, span)) = args.fallible {
                errors.push(syn::Error::new(
                    span,
                    "`fallible` needs a function that returns a `Result`",
                ));
            }
            return Returns::Unit;
        }
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Type::ImplTrait(_) = ty {
        errors.push(syn::Error::new(
            ty.span(),
            "a server function cannot return `impl Trait`: calls by name need one concrete type",
        ));
        return Returns::Unit;
    }
    if let Type::Reference(_) = ty {
        errors.push(syn::Error::new(
            ty.span(),
            "a server function must return an owned value: its result is kept after the function returns",
        ));
        return Returns::Unit;
    }
    if matches!(&ty, Type::Tuple(tuple) if tuple.elems.is_empty()) {
        return Returns::Unit;
    }
    let result_ok = result_ok_type(&ty);
    let fallible = match args.fallible {
        Some((explicit, _)) => explicit,
        None => result_ok.is_some(),
    };
    if !fallible {
        return Returns::Value(Box::new(ty));
    }
    Returns::Fallible {
        ty: Box::new(ty),
        ok: result_ok.map(Box::new),
    }
}

/// `T` of `Option<T>` (by its last path segment, as written).
fn option_inner(ty: &Type) -> Option<Type> {
    match type_arguments(ty, "Option")?.as_slice() {
        [inner] => Some(inner.clone()),
        _ => None,
    }
}

/// `P` of `Progress<P>` (by its last path segment, as written).
fn progress_inner(ty: &Type) -> Option<Type> {
    match type_arguments(ty, "Progress")?.as_slice() {
        [reported] => Some(reported.clone()),
        _ => None,
    }
}

/// `T` of a type whose last path segment is `Result<T, ..>`.
fn result_ok_type(ty: &Type) -> Option<Type> {
    type_arguments(ty, "Result")?.first().cloned()
}

/// The type arguments of `ty` when its last path segment is `name<..>`.
fn type_arguments(ty: &Type, name: &str) -> Option<Vec<Type>> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let PathArguments::AngleBracketed(generics) = &last.arguments else {
        return None;
    };
    (last.ident == name).then(|| {
        generics
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            })
            .collect()
    })
}

/// Names become URL paths in the HTTP transport: keep them to `[A-Za-z0-9_.-]+`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a server function name cannot be empty".to_owned());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(bad) => Err(format!(
            "invalid server function name {name:?}: {bad:?} is not allowed; use letters, digits, `_`, `.` and `-`"
        )),
        None => Ok(()),
    }
}

/// The span to blame for a missing trait on the return type: the type itself, or the name.
pub(crate) fn return_span(item: &ItemFn) -> Span {
    match &item.sig.output {
        ReturnType::Default => item.sig.ident.span(),
        ReturnType::Type(_, ty) => ty.span(),
    }
}

/// A type as a person writes it (`Result<i32, ParseIntError>`), not as `stringify!` spaces its
/// tokens (`Result < i32, ParseIntError >`): these strings end up in listings and errors.
pub(crate) fn display_type(ty: &Type) -> String {
    let mut out = String::new();
    write_tokens(quote::quote!(#ty), &mut out);
    out
}

fn write_tokens(tokens: proc_macro2::TokenStream, out: &mut String) {
    use proc_macro2::{Delimiter, TokenTree};
    let mut word_before = false;
    for token in tokens {
        match token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(group.stream(), out);
                out.push_str(close);
                word_before = false;
            }
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    ',' | ';' => out.push_str(&format!("{} ", punct.as_char())),
                    '+' | '=' => out.push_str(&format!(" {} ", punct.as_char())),
                    c => out.push(c),
                }
                word_before = false;
            }
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                if word_before {
                    out.push(' ');
                }
                out.push_str(&token.to_string());
                word_before = true;
            }
        }
    }
}
