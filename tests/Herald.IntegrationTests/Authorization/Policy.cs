namespace Herald.IntegrationTests.Authorization;

/// <summary>What a caller holds: nothing (no key, signed out), a sender key, or an administrator
/// key or console account, each of one scope and every scope below it; or a directory user signed
/// in to the console as themselves, who holds no scope at all.</summary>
internal enum Role
{
    None,
    Sender,
    Administrator,
    Person,
}

/// <summary>One row of the matrix: who calls. The console has no sender role: its rows are the
/// administrators, a directory user signed in as themselves and the signed-out visitor. The API
/// takes no console session: the person's row sends its cookie there and is nobody.</summary>
internal sealed record MatrixCaller(string Label, Role Role, string Scope)
{
    public static readonly MatrixCaller Nobody = new("none", Role.None, "/");

    public static readonly IReadOnlyList<MatrixCaller> All =
    [
        Nobody,
        new("sender /hr", Role.Sender, "/hr"),
        new("admin /hr", Role.Administrator, "/hr"),
        new("admin /hr2", Role.Administrator, "/hr2"),
        new("admin /hr.x", Role.Administrator, "/hr.x"),
        new("admin /hr/payroll", Role.Administrator, "/hr/payroll"),
        new("sender /", Role.Sender, "/"),
        new("admin /", Role.Administrator, "/"),
        new("person bob", Role.Person, "/"),
    ];

    /// <summary>The console's rows: the signed-out visitor and every administrator.</summary>
    public static IReadOnlyList<MatrixCaller> Console => All.Where(c => c.Role != Role.Sender).ToArray();

    /// <summary>The scopes the resources of each cell live in.</summary>
    public static readonly IReadOnlyList<string> ResourceScopes = ["/", "/hr", "/hr/payroll", "/hr2"];

    /// <summary>Scopes that exist for the matrix: every caller's and every resource's.</summary>
    public static readonly IReadOnlyList<string> Scopes = ["/hr", "/hr/payroll", "/hr2", "/hr.x"];

    /// <summary>The caller holds a role in <paramref name="scope"/>: it is the caller's scope or below it.</summary>
    public bool Holds(string scope) => Role is Role.Sender or Role.Administrator && Tree.IsWithin(scope, Scope);

    public bool Administers(string scope) => Role == Role.Administrator && Holds(scope);

    /// <summary>An administrator on <paramref name="scope"/>'s branch: of it, of a scope above it,
    /// or of a scope below it (which may use what <paramref name="scope"/> owns).</summary>
    public bool AdministersOnBranch(string scope) => Role == Role.Administrator && (Tree.IsWithin(scope, Scope) || Tree.IsWithin(Scope, scope));

    public override string ToString() => Label;
}

/// <summary>The scope tree as DESIGN.md draws it, written here independently of Core's ScopePath
/// so that the expectations do not inherit its mistakes: ancestry is by whole segments.</summary>
internal static class Tree
{
    public static bool IsWithin(string scope, string ancestor)
    {
        if (ancestor == "/")
        {
            return true;
        }

        var a = ancestor.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var s = scope.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return s.Length >= a.Length && a.Select((segment, i) => string.Equals(segment, s[i], StringComparison.Ordinal)).All(same => same);
    }
}

/// <summary>Who may use an operation, as DESIGN.md's "Who may do what" and the README say it.</summary>
internal enum Need
{
    /// <summary>No key or session needed (health, the OpenAPI document, sign-in, an unsubscribe link).</summary>
    Anyone,

    /// <summary>Any API key or signed-in administrator.</summary>
    AnyCaller,

    /// <summary>Anyone signed in to the console: an administrator or a directory user (for what is their own).</summary>
    SignedIn,

    /// <summary>Any administrator, of whichever scope (the directory is one for the farm).</summary>
    AnyAdministrator,

    /// <summary>A sender or an administrator of the scope or of a scope above it.</summary>
    Sender,

    /// <summary>An administrator of the scope or of a scope above it.</summary>
    Administrator,

    /// <summary>An administrator on the scope's branch: SMTP connections are used by the scopes
    /// below their owner, whose administrators see them (DESIGN: "a scope may use the connections
    /// owned by itself or its ancestors").</summary>
    BranchAdministrator,

    /// <summary>An administrator of <c>/</c>: the farm's own settings.</summary>
    RootAdministrator,

    /// <summary>Nobody once an administrator exists (the one-time set-up link is spent).</summary>
    NoOne,
}

/// <summary>How the request names what it acts on, which decides the refusal: a scope it names
/// (403 when not held), something it names by id alone (404 when that lies outside the caller's
/// scopes: "exactly as something that does not exist"), or the farm as a whole (403).</summary>
internal enum Address
{
    Scope,
    Resource,
    Farm,
}

/// <summary>A cell's answer, whatever the door: the API's 2xx / 401 / 403 / 404, the console's
/// page or redirect / redirect to sign-in / 403 page / 404.</summary>
internal enum Outcome
{
    Allowed,
    SignIn,
    Forbidden,
    NotFound,

    /// <summary>Neither allowed nor refused for lack of rights: the request itself was rejected
    /// (400, 409, 422) or failed (500). Never expected: the matrix sends valid requests.</summary>
    Rejected,
}

/// <summary>An operation's rule as data: who may, and how it is addressed.</summary>
/// <param name="Sees">For something named by id: who may know it exists (who may read it). A
/// caller refused who may not even see it is told 404, as if it did not exist; one who may see it,
/// 403. Null: whoever holds a role in its scope.</param>
internal sealed record Policy(Need Need, Address Address = Address.Scope, Need? Sees = null)
{
    public static readonly Policy Anyone = new(Need.Anyone, Address.Farm);
    public static readonly Policy AnyCaller = new(Need.AnyCaller, Address.Farm);
    public static readonly Policy SignedIn = new(Need.SignedIn, Address.Farm);
    public static readonly Policy AnyAdministrator = new(Need.AnyAdministrator, Address.Farm);
    public static readonly Policy Root = new(Need.RootAdministrator, Address.Farm);

    public static Policy ScopeAdministrator => new(Need.Administrator);

    public static Policy ScopeSender => new(Need.Sender);

    /// <summary>Something named by id that <paramref name="need"/> may act on and <paramref name="sees"/> may read.</summary>
    public static Policy Resource(Need need, Need sees) => new(need, Address.Resource, sees);

    /// <summary>The expected answer for <paramref name="caller"/> on something of <paramref name="scope"/>.</summary>
    public Outcome Expect(MatrixCaller caller, string scope)
    {
        if (Need == Need.Anyone)
        {
            return Outcome.Allowed;
        }

        if (Need == Need.NoOne && Address == Address.Farm)
        {
            return Outcome.NotFound;
        }

        if (caller.Role == Role.None)
        {
            return Outcome.SignIn;
        }

        // A person's session opens their own pages only: the door refuses every other, before the
        // page runs (so 403, never 404, whatever the page would have said).
        if (caller.Role == Role.Person && Need is not (Need.SignedIn or Need.NoOne))
        {
            return Outcome.Forbidden;
        }

        if (Need == Need.NoOne)
        {
            return Outcome.NotFound;
        }

        if (Allows(caller, scope))
        {
            return Outcome.Allowed;
        }

        // Something named by id that the caller may not even read: 404, as if it did not exist.
        var visible = Sees is { } sees ? (this with { Need = sees }).Allows(caller, scope) : caller.Holds(scope);
        return Address == Address.Resource && !visible ? Outcome.NotFound : Outcome.Forbidden;
    }

    public bool Allows(MatrixCaller caller, string scope) => Need switch
    {
        Need.Anyone => true,
        Need.NoOne => false,
        Need.AnyCaller => caller.Role is Role.Sender or Role.Administrator,
        Need.SignedIn => caller.Role is Role.Administrator or Role.Person,
        Need.AnyAdministrator => caller.Role == Role.Administrator,
        Need.Sender => caller.Holds(scope),
        Need.Administrator => caller.Administers(scope),
        Need.BranchAdministrator => caller.AdministersOnBranch(scope),
        Need.RootAdministrator => caller.Administers("/"),
        _ => throw new ArgumentOutOfRangeException(nameof(caller)),
    };

    /// <summary>The rule in the README's words.</summary>
    public string Who => Need switch
    {
        Need.Anyone => "anyone",
        Need.NoOne => Address == Address.Farm ? "nobody once an administrator exists" : "only its owner",
        Need.AnyCaller => "any key or signed-in administrator",
        Need.SignedIn => "any signed-in administrator or directory user",
        Need.AnyAdministrator => "any administrator",
        Need.Sender => Address == Address.Resource ? "sender or administrator of its scope" : "sender or administrator of the scope",
        Need.Administrator => Address == Address.Resource ? "administrator of its scope" : "administrator of the scope",
        Need.BranchAdministrator => "administrator of its scope, of a scope above it or of a scope below it that may use it",
        Need.RootAdministrator => "administrator of `/`",
        _ => throw new InvalidOperationException(),
    };

    /// <summary>What a refusal answers, in the README's words.</summary>
    public string Refusal => Need switch
    {
        Need.Anyone => "",
        Need.NoOne => "404",
        _ => Address == Address.Resource ? "403; 404 to whoever may not read it" : "403",
    };
}
