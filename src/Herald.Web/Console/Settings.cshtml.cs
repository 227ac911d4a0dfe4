using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Web.Console;

/// <summary>A scope's outgoing email settings, the SharePoint form: every value shows where it
/// comes from ("set here", "inherited from /", "default"); a child scope overrides a value or
/// reverts it to the inherited one.</summary>
public sealed class SettingsModel(OutgoingSettingsService service, ISettingsStore store, TestEmailService tester, ScopeService scopes, PublicUrlService publicUrls, OpenIdConnect.SingleSignOn singleSignOn) : ConsolePage
{
    public static readonly string[] Fields = ["enabled", "connection", "from", "fromName", "replyTo", "charset", "impersonation"];

    private static readonly string[] CommonCharsets =
        ["utf-8", "iso-8859-1", "iso-8859-2", "iso-8859-15", "windows-1252", "us-ascii", "shift_jis", "iso-2022-jp", "euc-jp", "gb2312", "big5", "euc-kr", "koi8-r"];

    public ScopePath Scope { get; private set; } = ScopePath.Root;

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public EffectiveOutgoingSettings Effective { get; private set; } = null!;

    public IReadOnlyList<SmtpConnection> Connections { get; private set; } = [];

    public SmtpConnection? Connection { get; private set; }

    public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Overrides { get; } = new(StringComparer.Ordinal);

    public TestView? Test { get; private set; }

    public string TestTo { get; private set; } = "";

    public string TestSubject { get; private set; } = "Herald test email";

    public string TestBody { get; private set; } = "This is a test email sent by Herald to check the outgoing email settings.";

    public IReadOnlyList<string> CharsetChoices { get; private set; } = [];

    /// <summary>The service's public URL, shown on the root scope's page.</summary>
    public PublicUrlView? PublicUrl { get; private set; }

    /// <summary>This node's single sign-on configuration, without its secret: administrators of <c>/</c> only.</summary>
    public OpenIdConnect.SingleSignOn? SingleSignOn { get; private set; }

    /// <summary>What was typed into the public URL field, redisplayed when it was refused.</summary>
    public string? PublicUrlTyped { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? scope) =>
        await LoadAsync(scope) ?? Page();

    public async Task<IActionResult> OnPostSaveAsync(string? scope)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        var form = Request.Form;
        var chosen = form["override"].Select(v => v ?? "").ToHashSet(StringComparer.Ordinal);
        var update = new OutgoingSettingsUpdate(Scope);
        var revert = new List<string>();
        foreach (var field in Fields)
        {
            var submitted = form[field].ToString().Trim();
            var current = Values[field];
            var setHere = DefinedAt(field) == Scope;
            // A value typed over the inherited one is an override even if the box was not ticked.
            var own = Scope.IsRoot ? (setHere && submitted.Length > 0) || submitted != current : chosen.Contains(field) || submitted != current;
            Values[field] = submitted;
            if (own && submitted.Length > 0)
            {
                Overrides.Add(field);
                if (!setHere || submitted != current)
                {
                    update = With(update, field, submitted);
                }
            }
            else if (setHere)
            {
                Overrides.Remove(field);
                revert.Add(field);
            }
        }

        var saved = await service.ApplyAsync(Caller, update, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal, Redisplay);
        }

        if (revert.Count > 0 && await service.RevertAsync(Caller, Scope, revert, HttpContext.RequestAborted) is { } revertRefusal)
        {
            return Refused(revertRefusal, Redisplay);
        }

        Notice = string.Join(" ", new[] { $"Saved the outgoing email settings of {Scope}." }.Concat(saved.Value!.Notes));
        return Redirect($"/settings?scope={Uri.EscapeDataString(Scope.Value)}");
    }

    public async Task<IActionResult> OnPostPublicUrlAsync(string? scope, string? publicUrl)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        var set = await publicUrls.SetAsync(Caller, publicUrl, HttpContext.RequestAborted);
        if (set.Refusal is { } refusal)
        {
            PublicUrlTyped = publicUrl;
            return Refused(refusal, Page);
        }

        PublicUrl = set.Value;
        Notice = set.Value!.Source == PublicUrlSource.Stored
            ? $"Links in mail now start with {set.Value.Url} on every node."
            : $"The public URL was removed: each node uses its own configuration ({set.Value.Url} here).";
        return Page();
    }

    public async Task<IActionResult> OnPostRevertAsync(string? scope, string? field)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        field ??= "";
        if (await service.RevertAsync(Caller, Scope, [field], HttpContext.RequestAborted) is { } refusal)
        {
            return Refused(refusal, Redisplay);
        }

        Notice = Scope.IsRoot ? $"{Label(field)} is back to its default." : $"{Label(field)} of {Scope} is inherited again.";
        return Redirect($"/settings?scope={Uri.EscapeDataString(Scope.Value)}");
    }

    public async Task<IActionResult> OnPostAddScopeAsync(string? scope, string? child)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        var added = await scopes.AddChildAsync(Caller, Scope.Value, child, HttpContext.RequestAborted);
        if (added.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        var path = added.Value!.Value;
        Notice = added.Value.Created ? $"Added scope {path}: it inherits everything from {Scope} until you override a value." : $"Scope {path} exists already.";
        return Redirect($"/settings?scope={Uri.EscapeDataString(path.Value)}");
    }

    public async Task<IActionResult> OnPostTestAsync(string? scope, string? to, string? subject, string? body)
    {
        if (await LoadAsync(scope) is { } refused)
        {
            return refused;
        }

        TestTo = to ?? "";
        TestSubject = subject ?? "";
        TestBody = body ?? "";
        if (!EmailAddress.TryParse(to, out var address, out var error))
        {
            ModelState.AddModelError("to", $"To: {error}");
            return Page();
        }

        var outcome = await tester.SendAsync(Caller, Scope, [address], subject ?? "", body ?? "", HttpContext.RequestAborted);
        if (outcome.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        var result = outcome.Value!;
        Test = new TestView(result.Problem, result.Result, result.Connection is { } c ? $"{c.Qualified} ({c.Host}:{c.Port})" : null);
        return Page();
    }

    public ScopePath? DefinedAt(string field) => field switch
    {
        "enabled" => Effective.Enabled.DefinedAt,
        "connection" => Effective.ConnectionId.DefinedAt,
        "from" => Effective.FromAddress.DefinedAt,
        "fromName" => Effective.FromName.DefinedAt,
        "replyTo" => Effective.ReplyTo.DefinedAt,
        "charset" => Effective.Charset.DefinedAt,
        _ => Effective.Impersonation.DefinedAt,
    };

    public static string Label(string field) => field switch
    {
        "enabled" => "Outgoing email",
        "connection" => "SMTP connection",
        "from" => "From address",
        "fromName" => "From display name",
        "replyTo" => "Reply-To address",
        "charset" => "Character set",
        _ => "Impersonation",
    };

    public int Depth(ScopePath scope) => scope.IsRoot ? 0 : scope.Value.Count(ch => ch == '/');

    private PageResult Redisplay()
    {
        Response.StatusCode = 400;
        return Page();
    }

    private static OutgoingSettingsUpdate With(OutgoingSettingsUpdate update, string field, string value) => field switch
    {
        "enabled" => update with { Enabled = value == "true" },
        "connection" => update with { Connection = value },
        "from" => update with { FromAddress = value },
        "fromName" => update with { FromName = value },
        "replyTo" => update with { ReplyTo = value },
        "charset" => update with { Charset = value },
        _ => update with { Impersonation = value },
    };

    /// <summary>Reads the scope and its settings; the refusal (a 403, a 404) when the administrator may not see them.</summary>
    private async Task<IActionResult?> LoadAsync(string? scope)
    {
        if (!ScopePath.TryParse(scope ?? Admin.Scope.Value, out var path, out _))
        {
            path = Admin.Scope;
        }

        Scope = path;
        var view = await service.GetAsync(Caller, path, HttpContext.RequestAborted);
        if (view.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        var effective = view.Value!.Effective;
        Effective = effective;
        Connection = view.Value.Connection;
        Scopes = (await store.ListScopesAsync(HttpContext.RequestAborted)).Where(Caller.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
        var usable = await service.ListConnectionsAsync(Caller, HttpContext.RequestAborted);
        Connections = (usable.Value ?? []).Select(l => l.Connection).Where(c => path.IsSameOrDescendantOf(c.Owner)).ToArray();
        Values["enabled"] = effective.Enabled.Value ? "true" : "false";
        Values["connection"] = Connection?.Qualified ?? "";
        Values["from"] = effective.FromAddress.Value?.Value ?? "";
        Values["fromName"] = effective.FromName.Value ?? "";
        Values["replyTo"] = effective.ReplyTo.Value?.Value ?? "";
        Values["charset"] = effective.Charset.Value;
        Values["impersonation"] = ImpersonationPolicyNames.Values.NameOf(effective.Impersonation.Value);
        foreach (var field in Fields.Where(f => DefinedAt(f) == path))
        {
            Overrides.Add(field);
        }

        var charsets = new List<string>();
        foreach (var candidate in CommonCharsets.Append(effective.Charset.Value))
        {
            if (Charsets.TryNormalize(candidate, out var canonical, out _) && !charsets.Contains(canonical))
            {
                charsets.Add(canonical);
            }
        }

        CharsetChoices = charsets;
        PublicUrl = path.IsRoot ? (await publicUrls.ShowAsync(Caller, HttpContext.RequestAborted)).Value : null;
        SingleSignOn = path.IsRoot && Caller.AdministersRoot ? singleSignOn : null;
        return null;
    }
}

/// <summary>What a test email did: nothing (and why), or the SMTP conversation's outcome.</summary>
public sealed record TestView(string? Problem, DeliveryResult? Result, string? Through);
