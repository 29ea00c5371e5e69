//! Who is signed in and the actions that change it, shared by every page.

use crate::api::sign_in::{current_user, Login, Logout, Setup, Signup};
use crate::model::user::Me;
use crate::model::AppError;
use leptos::prelude::*;

/// Who is signed in, and the actions that change it. Provided once, by the app's root.
#[derive(Clone, Copy)]
pub struct AuthCtx {
    pub me: Resource<Result<Option<Me>, AppError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub setup: ServerAction<Setup>,
    pub signup: ServerAction<Signup>,
}

/// Creates the auth actions and the signed-in user resource and provides them as context.
pub fn provide_auth() -> AuthCtx {
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let setup = ServerAction::<Setup>::new();
    let signup = ServerAction::<Signup>::new();
    let me = Resource::new(
        move || {
            (
                login.version().get(),
                logout.version().get(),
                setup.version().get(),
                signup.version().get(),
            )
        },
        |_| current_user(),
    );
    let ctx = AuthCtx {
        me,
        login,
        logout,
        setup,
        signup,
    };
    provide_context(ctx);
    ctx
}
