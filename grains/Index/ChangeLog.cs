using Orchestrator.GrainInterfaces;

namespace Orchestrator.Grains.Index;

/// <summary>One stored change as watchers see it; <see cref="Previous"/> lets a filtered watch
/// turn "stopped matching" into DELETED and "started matching" into ADDED, as Kubernetes does.</summary>
public sealed record Change<T>(long Version, WatchEventType Type, T Object, T? Previous);

/// <summary>A bounded, version-ordered ring of changes with binary search by version.</summary>
public sealed class ChangeLog<T>(int capacity)
{
    private readonly Change<T>[] _ring = new Change<T>[capacity];
    private int _start;
    private int _count;

    public int Count => _count;

    public void Append(Change<T> change)
    {
        if (_count == _ring.Length)
        {
            _ring[_start] = change;
            _start = (_start + 1) % _ring.Length;
        }
        else
        {
            _ring[(_start + _count) % _ring.Length] = change;
            _count++;
        }
    }

    /// <summary>The version of the oldest change kept, or null when empty.</summary>
    public long? OldestVersion => _count == 0 ? null : this[0].Version;

    private Change<T> this[int i] => _ring[(_start + i) % _ring.Length];

    /// <summary>Changes with a version greater than <paramref name="version"/>, oldest first.</summary>
    public IEnumerable<Change<T>> After(long version)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (this[mid].Version <= version)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        for (var i = lo; i < _count; i++)
        {
            yield return this[i];
        }
    }
}
