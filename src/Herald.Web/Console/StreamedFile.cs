using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console;

/// <summary>An export as a download, streamed into the response as it is written (page by page of
/// a list), never held whole.</summary>
internal sealed class StreamedFile(string contentType, string fileName, Func<Stream, CancellationToken, Task> write) : IActionResult
{
    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = context.HttpContext.Response;
        response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        response.ContentType = contentType;
        return write(response.Body, context.HttpContext.RequestAborted);
    }
}
