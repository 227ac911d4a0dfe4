using System.Text;

namespace Herald.Cli;

/// <summary>Where an export verb writes: the file <c>--output</c> names, or standard output.</summary>
internal static class CliExport
{
    public static async Task<int> WriteAsync(CliConsole console, Func<Stream, CancellationToken, Task> write, string? path, CancellationToken cancellationToken)
    {
        if (path is not null)
        {
            var file = File.Create(path);
            await using (file.ConfigureAwait(false))
            {
                await write(file, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }

        using var buffer = new MemoryStream();
        await write(buffer, cancellationToken).ConfigureAwait(false);
        await console.Out.WriteAsync(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)).ConfigureAwait(false);
        return 0;
    }
}
