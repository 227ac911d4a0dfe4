using Herald.Scopes;

namespace Herald.Access;

/// <summary>
/// Who asks for an operation. Every use case in Core is given the caller and decides there, once,
/// for every door: the API passes the request's API key, the console its signed-in administrator
/// or person, the CLI the local operator. The doors only translate; none of them decides who may.
/// </summary>
public abstract record Caller
{
    /// <summary>The operator running <c>herald</c> on the node's own data directory: whoever can
    /// read that directory (and the credential key beside it) holds everything already.</summary>
    public static readonly Caller Operator = new LocalOperator();

    /// <summary>How a refusal names the caller, e.g. "This API key (administrator of /hr)".</summary>
    public abstract string Description { get; }

    /// <summary>Whether the caller administers <paramref name="scope"/>: it is the caller's scope or below it.</summary>
    public abstract bool Administers(ScopePath scope);

    /// <summary>Whether the caller administers at least one scope of the subtree rooted at
    /// <paramref name="subtree"/>: it may then see what that subtree's scopes use from above
    /// (a connection owned by <c>/</c>, say), though not change it.</summary>
    public abstract bool AdministersAnyScopeIn(ScopePath subtree);

    /// <summary>Whether the caller may submit mail and events into <paramref name="scope"/>
    /// (administrators may send too).</summary>
    public abstract bool MaySendInto(ScopePath scope);

    /// <summary>Whether the caller administers a scope at all (its own and those below it): who
    /// may read the directory of users and groups, which every scope shares.</summary>
    public abstract bool IsAdministrator { get; }

    /// <summary>The name of the person behind the caller, for what is theirs as a person (their
    /// own alerts); null for a program or the local operator.</summary>
    public virtual string? PersonName => null;

    /// <summary>Administrators of <c>/</c>: the farm's own settings (relay endpoints, connections
    /// owned by <c>/</c>, the global directory) are theirs alone.</summary>
    public bool AdministersRoot => Administers(ScopePath.Root);

    /// <summary>Null when the caller administers <paramref name="scope"/>; otherwise the refusal,
    /// naming the caller and <paramref name="what"/> ("change SMTP connection 'default'").</summary>
    public Refusal? RefuseUnlessAdministers(ScopePath scope, string what) =>
        Administers(scope) ? null : Refusal.NotAllowed($"{Description} may not {what}: it is not an administrator of {scope}.");

    /// <summary>Null when the caller may send into <paramref name="scope"/>; otherwise the refusal.</summary>
    public Refusal? RefuseUnlessMaySendInto(ScopePath scope) =>
        MaySendInto(scope) ? null : Refusal.NotAllowed($"{Description} may not send into scope {scope}.");

    /// <summary>A program calling the HTTP API with an API key.</summary>
    public sealed record Key(ApiKey ApiKey) : Caller
    {
        public override string Description =>
            $"This API key ({(ApiKey.Role == ApiKeyRole.Admin ? "administrator" : "sender")} of {ApiKey.Scope})";

        public override bool Administers(ScopePath scope) => ApiKey.Allows(scope, ApiKeyRole.Admin);

        public override bool AdministersAnyScopeIn(ScopePath subtree) =>
            Administers(subtree) || (ApiKey.Role == ApiKeyRole.Admin && ApiKey.RevokedAt is null && ApiKey.Scope.IsSameOrDescendantOf(subtree));

        public override bool MaySendInto(ScopePath scope) => ApiKey.Allows(scope, ApiKeyRole.Sender);

        public override bool IsAdministrator => ApiKey is { Role: ApiKeyRole.Admin, RevokedAt: null };
    }

    /// <summary>An administrator signed in to the web console.</summary>
    public sealed record ConsoleAdministrator(string Name, ScopePath Scope) : Caller
    {
        public override string Description => $"Administrator {Name} (of {Scope})";

        public override bool Administers(ScopePath scope) => scope.IsSameOrDescendantOf(Scope);

        public override bool AdministersAnyScopeIn(ScopePath subtree) => Administers(subtree) || Scope.IsSameOrDescendantOf(subtree);

        public override bool MaySendInto(ScopePath scope) => Administers(scope);

        public override bool IsAdministrator => true;

        public override string? PersonName => Name;
    }

    /// <summary>
    /// A directory user signed in to the console as themselves (through a "Manage your alerts"
    /// link, an emailed sign-in link or single sign-on). They administer nothing and send nothing:
    /// what is theirs as a person (their own alerts, their opt-outs, their time zone and language)
    /// is found by <see cref="UserId"/>, exactly, and by nothing else.
    /// </summary>
    public sealed record Person(string UserId) : Caller
    {
        public override string Description => $"Directory user {UserId}";

        public override bool Administers(ScopePath scope) => false;

        public override bool AdministersAnyScopeIn(ScopePath subtree) => false;

        public override bool MaySendInto(ScopePath scope) => false;

        public override bool IsAdministrator => false;

        public override string? PersonName => UserId;
    }

    /// <summary>See <see cref="Operator"/>.</summary>
    public sealed record LocalOperator : Caller
    {
        public override string Description => "The local operator";

        public override bool Administers(ScopePath scope) => true;

        public override bool AdministersAnyScopeIn(ScopePath subtree) => true;

        public override bool MaySendInto(ScopePath scope) => true;

        public override bool IsAdministrator => true;
    }
}
