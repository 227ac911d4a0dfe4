using System.Text;

namespace Herald.Notifications.Templates;

/// <summary>A writer that does its work at once: Fluid awaits some of its writes, and
/// <see cref="TextWriter"/> would queue each of those to the thread pool.</summary>
internal abstract class SynchronousWriter : TextWriter
{
    private const int MaxSpareCapacity = 64 * 1024;

    /// <summary>A builder left by the last writer on this thread: a fan-out renders thousands of
    /// mails in a row, and growing a new builder for each part doubled what a render allocates.</summary>
    [ThreadStatic]
    private static StringBuilder? t_spare;

    public override Encoding Encoding => Encoding.Unicode;

    protected StringBuilder Text { get; } = Spare() ?? new StringBuilder(256);

    /// <summary>What was written; the writer is done, and its builder goes to the next one.</summary>
    public string Collect()
    {
        var text = Collected();
        if (Text.Capacity <= MaxSpareCapacity)
        {
            Text.Clear();
            t_spare = Text;
        }

        return text;
    }

    protected virtual string Collected() => Text.ToString();

    private static StringBuilder? Spare()
    {
        var spare = t_spare;
        t_spare = null;
        return spare;
    }

    public override void Write(string? value)
    {
        if (value is not null)
        {
            Write(value.AsSpan());
        }
    }

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override Task WriteAsync(char value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(string? value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(char[] buffer, int index, int count)
    {
        Write(buffer, index, count);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Collects a body or a captured value and stops the render, with the reason given, as soon as
/// it would hold more than its limit: a template that writes 100 MB fails after the first MiB
/// instead of after allocating the 100 MB.
/// </summary>
internal sealed class BoundedWriter(int limit, string overflow, RenderContext? charged = null) : SynchronousWriter
{

    public override void Write(char value)
    {
        Reserve(1);
        Text.Append(value);
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        Reserve(buffer.Length);
        Text.Append(buffer);
    }

    private void Reserve(int count)
    {
        if (Text.Length + (long)count > limit)
        {
            throw new TemplateLimitException(overflow);
        }

        // A capture builds a value: it counts towards what the whole render may build.
        charged?.Built(count);
    }
}

/// <summary>
/// Collects a subject as the one header line it becomes: line breaks and runs of white space are
/// one space, and once the line holds <c>limit</c> characters the render of the subject stops
/// with <see cref="SubjectComplete"/> (a subject is cut there anyway), so however much a template
/// writes, the subject costs no more memory or time.
/// </summary>
internal sealed class SubjectWriter(int limit) : SynchronousWriter
{
    private bool _space;

    public override void Write(char value)
    {
        if (char.IsWhiteSpace(value) || char.IsControl(value))
        {
            _space = Text.Length > 0;
            return;
        }

        if (Text.Length + (_space ? 1 : 0) >= limit)
        {
            throw new SubjectComplete();
        }

        if (_space)
        {
            _space = false;
            Text.Append(' ');
        }

        Text.Append(value);
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        foreach (var c in buffer)
        {
            Write(c);
        }
    }

    /// <summary>The line, without half of a character cut at the limit.</summary>
    protected override string Collected() =>
        Text.Length > 0 && char.IsHighSurrogate(Text[^1]) ? Text.ToString(0, Text.Length - 1) : Text.ToString();
}

/// <summary>The subject's line is full: the render of the subject is done.</summary>
internal sealed class SubjectComplete : Exception
{
    public SubjectComplete()
        : base("The subject is full.")
    {
    }

    public SubjectComplete(string message)
        : base(message)
    {
    }

    public SubjectComplete(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
