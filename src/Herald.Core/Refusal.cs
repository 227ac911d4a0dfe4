namespace Herald;

/// <summary>A problem with one field, in a sentence an administrator can act on. <see cref="Field"/>
/// is the name the request used (<c>server</c>, <c>entries[3]</c>), so each door can show the
/// sentence next to what was wrong.</summary>
public sealed record FieldError(string Field, string Message);

/// <summary>Why a use case did nothing. Each door translates the kind, never the sentence: the API
/// answers 403 / 404 / 422 / 409 problem details, the console shows the sentence (next to the
/// fields for <see cref="RefusalKind.Invalid"/>), the CLI prints it and exits non-zero.</summary>
public enum RefusalKind
{
    /// <summary>The caller may not do this (API 403).</summary>
    NotAllowed,

    /// <summary>What the caller named does not exist, or is not theirs to know of (API 404).</summary>
    NotFound,

    /// <summary>The input is wrong; <see cref="Refusal.Errors"/> names each field (API 422).</summary>
    Invalid,

    /// <summary>The input is right but clashes with what is stored, such as a name in use or a
    /// connection still used by a scope (API 409).</summary>
    Conflict,

    /// <summary>Right and allowed, but Herald cannot do it now (the outbox's disk nearly full, its
    /// database unreachable); the same request may succeed later (API 503).</summary>
    Unavailable,
}

/// <summary>
/// A use case's "no": what kind of refusal, one sentence that says why and what to do, and for
/// invalid input the problem with each field. Nothing was stored when a use case refuses.
/// </summary>
public sealed record Refusal(RefusalKind Kind, string Sentence, IReadOnlyList<FieldError> Errors)
{
    public static Refusal NotAllowed(string sentence) => new(RefusalKind.NotAllowed, sentence, []);

    public static Refusal NotFound(string sentence) => new(RefusalKind.NotFound, sentence, []);

    public static Refusal Conflict(string sentence) => new(RefusalKind.Conflict, sentence, []);

    public static Refusal Conflict(FieldError error) => new(RefusalKind.Conflict, error.Message, [error]);

    public static Refusal Unavailable(string sentence) => new(RefusalKind.Unavailable, sentence, []);

    /// <summary>Invalid input: <paramref name="summary"/> heads the list, e.g. "The settings are not
    /// valid; nothing was saved."</summary>
    public static Refusal Invalid(IReadOnlyList<FieldError> errors, string summary = "The request is not valid; nothing was saved.") =>
        new(RefusalKind.Invalid, summary, errors);

    public static Refusal Invalid(string field, string message) => Invalid([new FieldError(field, message)], message);

    /// <summary>Everything the refusal says, on one line: the sentence and each field's problem.</summary>
    public override string ToString() =>
        Errors.Count == 0 || (Errors.Count == 1 && Errors[0].Message == Sentence)
            ? Sentence
            : $"{Sentence} {string.Join(" ", Errors.Select(e => e.Field.Length == 0 ? e.Message : $"{e.Field}: {e.Message}"))}";
}

/// <summary>What a use case gives back: its value, or why it refused (and then nothing changed).</summary>
public readonly record struct Result<T>
{
    private Result(T? value, Refusal? refusal)
    {
        Value = value;
        Refusal = refusal;
    }

    public T? Value { get; }

    public Refusal? Refusal { get; }

    public bool Refused => Refusal is not null;

    public static implicit operator Result<T>(T value) => new(value, null);

    public static implicit operator Result<T>(Refusal refusal) => new(default, refusal);
}
