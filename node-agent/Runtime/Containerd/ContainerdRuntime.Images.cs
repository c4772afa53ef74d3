using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Orchestrator.NodeAgent.Runtime.Containerd;

/// <summary>
/// Images: the pull policy decides between the image already in our namespace and
/// <c>ctr images pull</c>. Kubernetes' reasons: ErrImageNeverPull when the policy forbids pulling
/// a missing image, ErrImagePull when a pull fails.
/// </summary>
public sealed partial class ContainerdRuntime
{
    private static readonly TimeSpan ImageListMaxAge = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, ImageConfig> _imageConfigs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _presentImages = new(StringComparer.Ordinal);

    public async Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken)
    {
        var reference = ImageReference.Normalize(image);
        switch (pullPolicy)
        {
            case "Never":
                if (!await IsPresentAsync(reference, cancellationToken))
                {
                    throw new RuntimeException("ErrImageNeverPull", $"container image \"{image}\" is not present with pull policy of Never");
                }
                return;
            case "IfNotPresent":
                if (await IsPresentAsync(reference, cancellationToken))
                {
                    return;
                }
                break;
        }
        await PullAsync(image, reference, cancellationToken);
    }

    /// <summary>Whether the image is in our namespace. A positive answer is remembered for
    /// <see cref="ImageListMaxAge"/>, so a burst of pods of one image asks containerd once; an
    /// image removed meanwhile makes the start fail and the pod worker retry.</summary>
    private async Task<bool> IsPresentAsync(string reference, CancellationToken cancellationToken)
    {
        if (_presentImages.TryGetValue(reference, out var seen) && _time.GetElapsedTime(seen) < ImageListMaxAge)
        {
            return true;
        }
        var list = await _ctr.RunAsync(["images", "list", "--quiet"], cancellationToken);
        if (!list.Succeeded)
        {
            throw new RuntimeException("ErrImageInspect", $"listing images: {list.ErrorMessage}");
        }
        var now = _time.GetTimestamp();
        var present = false;
        foreach (var name in list.StandardOutput.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            _presentImages[name] = now;
            present |= name == reference;
        }
        return present;
    }

    private async Task PullAsync(string image, string reference, CancellationToken cancellationToken)
    {
        LogPulling(_logger, reference);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ImagePullTimeout);
        ToolResult pull;
        try
        {
            pull = await _ctr.RunAsync(["images", "pull", reference], deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RuntimeException("ErrImagePull", $"pulling image \"{image}\" ({reference}) did not finish within {_options.ImagePullTimeout} (Agent:ImagePullTimeout)");
        }
        if (!pull.Succeeded)
        {
            throw new RuntimeException("ErrImagePull", $"failed to pull image \"{image}\" ({reference}): {pull.ErrorMessage}");
        }
        _imageConfigs.TryRemove(reference, out _);
    }

    /// <summary>The process to run, as Kubernetes defines it: command replaces the image's
    /// entrypoint, args replace its cmd. ctr replaces both when given arguments, so args alone
    /// need the entrypoint from the image's config; with neither, the image decides.</summary>
    private async Task<IReadOnlyList<string>> ArgvAsync(string reference, Model.Container container, CancellationToken cancellationToken)
    {
        if (container.Command is { Count: > 0 } command)
        {
            return [.. command, .. container.Args ?? []];
        }
        if (container.Args is { Count: > 0 } args)
        {
            return [.. (await ImageConfigAsync(reference, cancellationToken)).Entrypoint, .. args];
        }
        return [];
    }

    /// <summary>What the agent needs from an image's config: its entrypoint, and the user it
    /// runs as (runAsNonRoot is checked against it, as the kubelet does).</summary>
    private sealed record ImageConfig(IReadOnlyList<string> Entrypoint, string User);

    private async Task<ImageConfig> ImageConfigAsync(string reference, CancellationToken cancellationToken)
    {
        if (_imageConfigs.TryGetValue(reference, out var cached))
        {
            return cached;
        }
        var list = await _ctr.RunAsync(["images", "list", $"name=={reference}"], cancellationToken);
        // REF TYPE DIGEST SIZE ...: the digest of the manifest (or index) the name points at.
        var digest = list.StandardOutput.Split('\n').Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(f => f.Length > 2 && f[0] == reference)?[2]
            ?? throw new RuntimeException("CreateContainerError", $"image {reference} not found when reading its config");
        using var config = await ConfigAsync(digest, cancellationToken);
        var c = config.RootElement.TryGetProperty("config", out var cc) && cc.ValueKind == JsonValueKind.Object ? cc : default;
        var entrypoint = c.ValueKind == JsonValueKind.Object && c.TryGetProperty("Entrypoint", out var e) && e.ValueKind == JsonValueKind.Array
            ? e.EnumerateArray().Select(x => x.GetString() ?? "").ToList()
            : [];
        var user = c.ValueKind == JsonValueKind.Object && c.TryGetProperty("User", out var u) && u.ValueKind == JsonValueKind.String
            ? u.GetString() ?? ""
            : "";
        var result = new ImageConfig(entrypoint, user);
        _imageConfigs[reference] = result;
        return result;
    }

    /// <summary>Follows an index (this machine's platform) and a manifest to the image config.</summary>
    private async Task<JsonDocument> ConfigAsync(string digest, CancellationToken cancellationToken)
    {
        for (var depth = 0; depth < 3; depth++)
        {
            var blob = await _ctr.RunAsync(["content", "get", digest], cancellationToken);
            if (!blob.Succeeded)
            {
                throw new RuntimeException("CreateContainerError", $"reading image content {digest}: {blob.ErrorMessage}");
            }
            var doc = JsonDocument.Parse(blob.StandardOutput);
            var root = doc.RootElement;
            if (root.TryGetProperty("manifests", out var manifests))
            {
                var arch = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64";
                digest = manifests.EnumerateArray()
                    .FirstOrDefault(m => m.TryGetProperty("platform", out var p) && p.GetProperty("os").GetString() == "linux" && p.GetProperty("architecture").GetString() == arch)
                    .GetProperty("digest").GetString()!;
                doc.Dispose();
                continue;
            }
            if (root.TryGetProperty("config", out var config) && config.TryGetProperty("digest", out var configDigest))
            {
                digest = configDigest.GetString()!;
                doc.Dispose();
                continue;
            }
            return doc;
        }
        throw new RuntimeException("CreateContainerError", $"image content {digest} does not lead to an image config");
    }
}
